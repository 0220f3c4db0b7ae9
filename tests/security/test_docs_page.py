"""/docs: Swagger UI served by wschats itself, offline, under the base path, with a strict
Content-Security-Policy, and a setting that turns it off (issue 14)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser

import pytest

from tests.conftest import Api

BASE = "/services/chats"  # the base path of the test settings
TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".json": "application/json",
}


class References(HTMLParser):
    """Every URL the page names: src, href and the document's data attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-openapi-url") and value is not None:
                self.urls.append(value)
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self.inline_scripts += 1


@pytest.mark.parametrize("page", ["/docs", f"{BASE}/docs", f"{BASE}/docs/"])
async def test_the_docs_page_uses_only_its_own_assets(api: Api, page: str) -> None:
    response = await api.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//", response.text), "an absolute URL in the page"
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"

    references = References()
    references.feed(response.text)
    assert references.inline_scripts == 0
    assert len(references.urls) == 5, references.urls  # css, icon, document, two scripts
    for url in references.urls:
        assert url.startswith(f"{BASE}/"), url  # under the base path: works behind a proxy
        asset = await api.get(url)
        assert asset.status_code == 200, url
        expected = TYPES["." + url.rsplit(".", 1)[-1]]
        assert asset.headers["content-type"].split(";")[0] == expected, url
        assert asset.content, url
    document = await api.get(f"{BASE}/openapi.json")
    assert json.loads(document.content)["openapi"].startswith("3.")


async def test_only_the_pages_assets_are_served(api: Api) -> None:
    for name in (
        "index.html",
        "swagger-initializer.js",
        "..%2F__init__.py",
        "oauth2-redirect.html",
    ):
        response = await api.get(f"{BASE}/docs/assets/{name}")
        assert response.status_code == 404, name
    # ReDoc would load its script from a CDN: it is not served.
    assert (await api.get("/redoc")).status_code == 404


async def test_the_docs_can_be_turned_off(api_with: Callable[..., Awaitable[Api]]) -> None:
    quiet = await api_with(api_docs=False)
    for path in ("/docs", f"{BASE}/docs", f"{BASE}/docs/assets/swagger-ui-bundle.js"):
        assert (await quiet.get(path)).status_code == 404, path
    assert (await quiet.get(f"{BASE}/openapi.json")).status_code == 200
