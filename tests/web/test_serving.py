"""The built web client is served at `/` and under the base path; the API stays where it is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.conftest import Api, User, Users

INDEX = (
    '<!doctype html><html><head><meta name="wsc-base" content="/__WSC_BASE__/">'
    '<script type="module" src="/__WSC_BASE__/assets/index-abc123.js"></script></head>'
    '<body><div id="app"></div></body></html>'
)
SCRIPT = "console.log('hello from the client');\n" * 50


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text(SCRIPT)
    (dist / "assets" / "index-def456.css").write_text("body{margin:0}")
    return dist


async def test_index_carries_the_base_path_at_the_root_and_under_it(
    api_with: Any, tmp_path: Path
) -> None:
    api: Api = await api_with(web_dir=build(tmp_path))

    for path in ("/", "/services/chats/", "/services/chats"):
        response = await api.get(path)

        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert 'src="/services/chats/assets/index-abc123.js"' in response.text
        assert 'content="/services/chats/"' in response.text
        assert "__WSC_BASE__" not in response.text


async def test_index_without_a_base_path_points_at_the_root(api_with: Any, tmp_path: Path) -> None:
    api: Api = await api_with(web_dir=build(tmp_path), base_path="")

    response = await api.get("/")

    assert 'src="/assets/index-abc123.js"' in response.text


async def test_hashed_assets_are_cached_for_a_year_and_sent_gzipped(
    api_with: Any, tmp_path: Path
) -> None:
    api: Api = await api_with(web_dir=build(tmp_path))

    plain = await api.get("/services/chats/assets/index-abc123.js", headers={"Accept-Encoding": ""})
    packed = await api.client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    css = await api.get("/assets/index-def456.css")

    assert plain.status_code == 200
    assert plain.text == SCRIPT
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.num_bytes_downloaded < len(SCRIPT) / 5  # sent packed; httpx unpacks it
    assert packed.text == SCRIPT
    assert css.headers["content-type"].startswith("text/css")


async def test_a_rebuilt_asset_is_read_again(api_with: Any, tmp_path: Path) -> None:
    dist = build(tmp_path)
    api: Api = await api_with(web_dir=dist)
    await api.get("/assets/index-abc123.js")
    target = dist / "assets" / "index-abc123.js"
    target.write_text("changed();")
    stat = target.stat()

    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    response = await api.get("/assets/index-abc123.js")

    assert response.text == "changed();"


async def test_unknown_or_escaping_asset_names_get_a_json_404(
    api_with: Any, tmp_path: Path
) -> None:
    api: Api = await api_with(web_dir=build(tmp_path))

    for path in ("/assets/missing.js", "/assets/..%2Findex.html", "/assets/.hidden"):
        response = await api.get(path)

        assert response.status_code == 404, path
        assert "message" in response.json()


async def test_without_a_build_the_page_says_how_to_build_it(api_with: Any, tmp_path: Path) -> None:
    api: Api = await api_with(web_dir=tmp_path / "nothing-here")

    response = await api.get("/")

    assert response.status_code == 200
    assert "npm ci &amp;&amp; npm run build" in response.text
    assert (await api.get("/assets/index-abc123.js")).status_code == 404


async def test_the_client_does_not_shadow_the_api(
    api_with: Any, tmp_path: Path, users: Users
) -> None:
    api: Api = await api_with(web_dir=build(tmp_path))
    alice: User = await users.new()

    assert (await api.get("/auth/token")).status_code == 401
    assert (await api.get("/services/chats/rooms", alice)).status_code == 200
    assert (await api.get("/health/live")).status_code == 204
