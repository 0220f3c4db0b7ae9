"""The interactive API documentation at /docs: Swagger UI served by wschats itself.

Its assets come from a pinned package (swagger-ui-bundle) rather than a CDN: the page runs on
the API's own origin, where `GET /auth/token` answers the caller's token, so no script from
elsewhere may run there. The page allows only its own scripts and styles (CSP), works offline,
and names every asset under the base path, so it works behind a proxy that serves only that.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from wschats.domain.errors import NotFound

ASSETS_PATH = "/docs/assets"
# The Swagger UI files the page uses, with their types; nothing else of the package is served.
_SWAGGER_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_OWN_SCRIPT = "docs.js"
# Swagger UI draws its icons from data: URLs and calls the API from the page (same origin).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_CACHE = "public, max-age=86400"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/{own_script}"></script>
</body>
</html>
"""


def install_docs(app: FastAPI, *, base_path: str = "") -> None:
    """Serve the page at /docs and its assets under /docs/assets/ (both also under the
    base path, as every route). The app must be created with `docs_url=None`."""
    prefix = base_path.rstrip("/")
    page = _PAGE.format(
        title=html.escape(app.title),
        assets=html.escape(prefix + ASSETS_PATH),
        openapi=html.escape(prefix + "/openapi.json"),
        own_script=_OWN_SCRIPT,
    )
    own_script = resources.files("wschats.api").joinpath("static", _OWN_SCRIPT)

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> Response:
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
            },
        )

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name == _OWN_SCRIPT:
            return Response(
                own_script.read_bytes(),
                media_type="text/javascript; charset=utf-8",
                headers={"Cache-Control": _CACHE},
            )
        media_type = _SWAGGER_ASSETS.get(name)
        if media_type is None:
            raise NotFound(f"No documentation asset {name!r}")
        return FileResponse(
            Path(swagger_ui_path) / name, media_type=media_type, headers={"Cache-Control": _CACHE}
        )
