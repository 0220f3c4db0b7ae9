"""Serves the browser client built under `web/` (issue 13) at `/` and its assets at `/assets/`.

The build writes asset URLs with the placeholder `/__WSC_BASE__/`; the index page gets the
configured base path in its place, so the same build works at the root and under
`WSC_BASE_PATH` (PathNormalizer already serves `/` and `/assets/...` under the base path).
Hashed assets never change under a name, so browsers may keep them for a year; the index is
revalidated every time, so a new build is picked up at once.
"""

from __future__ import annotations

import gzip
import html
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, Response

from wschats.api.errors import error_response

BASE_PLACEHOLDER = "/__WSC_BASE__/"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map", ".txt")
IMMUTABLE = "public, max-age=31536000, immutable"


def default_web_dir() -> Path:
    """`web/dist` of the source checkout this package runs from (an editable install)."""
    return Path(__file__).resolve().parents[3] / "web" / "dist"


NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wschats</title></head>
<body><main>
<h1>wschats is running</h1>
<p>The API answers here, but the web client has not been built.
Build it with Node.js 18 or later:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>or run <code>scripts/build-web.sh</code>, then reload this page.</p>
</main></body></html>
"""


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    mtime_ns: int


class WebClientFiles:
    """Reads the build from disk, keeping each file in memory until it changes."""

    def __init__(self, web_dir: Path, base_path: str) -> None:
        self.web_dir = web_dir
        self.base = base_path.rstrip("/") + "/"
        self._cache: dict[Path, _Asset] = {}

    def index(self) -> str | None:
        path = self.web_dir / "index.html"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
        return text.replace(BASE_PLACEHOLDER, html.escape(self.base, quote=True))

    def asset(self, name: str) -> _Asset | None:
        if not _ASSET_NAME.match(name) or ".." in name:
            return None
        path = self.web_dir / "assets" / name
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        body = path.read_bytes()
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type == "application/javascript":
            media_type += "; charset=utf-8"
        packed = gzip.compress(body, 9) if name.endswith(_COMPRESSIBLE) else None
        asset = _Asset(body, packed, media_type, mtime)
        self._cache[path] = asset
        return asset


def install_web_client(app: FastAPI, web_dir: Path, base_path: str) -> None:
    files = WebClientFiles(web_dir, base_path)
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def index() -> Response:
        page = files.index()
        headers = {"Cache-Control": "no-cache"}
        if page is None:
            return HTMLResponse(NOT_BUILT_PAGE, headers=headers)
        return HTMLResponse(page, headers=headers)

    @router.get("/assets/{name}")
    async def asset(name: str, request: Request) -> Response:
        found = files.asset(name)
        if found is None:
            return error_response(request, 404, f"No web client asset {name!r}")
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        body = found.body
        if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = found.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=found.media_type, headers=headers)

    app.include_router(router)
