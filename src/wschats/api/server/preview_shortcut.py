"""Answers preview requests before routing.

A preview is the most repeated request of a chat client (every message list shows
thumbnails), and a cached one is two indexed reads and a dictionary lookup: routing,
dependency solving and the framework's middleware took most of its time, and a fifth to a
third of the event loop's time per render (bench/RESULTS.md). This ASGI
middleware answers a well-formed preview request itself, through the same service call,
response and error handlers as the route, and hands everything else to the app.

What it cannot answer as the route would, it leaves to the route untouched, having spent
nothing: a path or parameter the route would refuse (answered there in the route's words),
and a request that does not authenticate (one token read more). The rate limit is spent
here, once, before the preview is looked at, as the route does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from uuid import UUID

from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from wschats.api.deps import authenticated
from wschats.api.errors import handled_error
from wschats.api.routes import previews as preview_routes
from wschats.api.server.limits import enforce_rate_limit
from wschats.container import Container
from wschats.domain.errors import DomainError
from wschats.domain.previews import PreviewKind, PreviewRequest, image_request, pdf_request

RequestOf = Callable[[str, Mapping[str, str]], PreviewRequest]

# The usual forms of a UUID, both of which the route's parameter accepts; any other form
# (braces, a URN) goes to the route.
_HEX = "[0-9a-fA-F]"
_FILE = rf"(?P<file>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}|{_HEX}{{32}})"
_AREA = r"(?P<area>[^/]+)"


def _thumbnail_of(kind: PreviewKind) -> RequestOf:
    def request_of(area: str, query: Mapping[str, str]) -> PreviewRequest:
        return image_request(
            kind,
            area,
            quality=query.get("quality"),
            output_format=query.get("output_format"),
            shape=query.get("shape"),
        )

    return request_of


def _image_preview(area: str, query: Mapping[str, str]) -> PreviewRequest:
    return image_request(
        PreviewKind.IMAGE_PREVIEW,
        area,
        quality=query.get("quality"),
        output_format=query.get("output_format"),
        crop=query.get("crop"),
    )


def _pdf_preview(area: str, query: Mapping[str, str]) -> PreviewRequest:
    return pdf_request(query.get("firstPage"), query.get("lastPage"))


# The preview routes (routes/previews.py), by the path the normaliser leaves: each path's
# pattern, the endpoint serving it, and how its parameters make the request.
_ROUTES: tuple[tuple[re.Pattern[str], Callable[..., object], RequestOf], ...] = (
    (
        re.compile(rf"/preview/image/{_FILE}/{_AREA}/thumbnail"),
        preview_routes.get_image_thumbnail,
        _thumbnail_of(PreviewKind.IMAGE_THUMBNAIL),
    ),
    (
        re.compile(rf"/preview/image/{_FILE}/{_AREA}"),
        preview_routes.get_image_preview,
        _image_preview,
    ),
    (re.compile(rf"/preview/pdf/{_FILE}"), preview_routes.get_pdf_preview, _pdf_preview),
    (
        re.compile(rf"/preview/pdf/{_FILE}/{_AREA}/thumbnail"),
        preview_routes.get_pdf_thumbnail,
        _thumbnail_of(PreviewKind.PDF_THUMBNAIL),
    ),
)


def _route_of(endpoint: Callable[..., object]) -> APIRoute:
    for route in preview_routes.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
    raise LookupError(f"no route serves {endpoint.__name__}")


class PreviewShortcut:
    """Sits inside the trace id, path normaliser, request log and limit middlewares, so a
    preview answered here is traced, logged and counted under its route like any other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes = [
            (pattern, _route_of(endpoint), request_of) for pattern, endpoint, request_of in _ROUTES
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not await self._answered(scope, receive, send)
        ):
            await self.app(scope, receive, send)

    def _match(self, path: str) -> tuple[re.Match[str], APIRoute, RequestOf] | None:
        if not path.startswith("/preview/"):
            return None
        for pattern, route, request_of in self._routes:
            matched = pattern.fullmatch(path)
            if matched is not None:
                return matched, route, request_of
        return None

    async def _answered(self, scope: Scope, receive: Receive, send: Send) -> bool:
        found = self._match(scope["path"])
        if found is None:
            return False
        matched, route, request_of = found
        try:
            file_id = UUID(matched["file"])
            preview_request = request_of(
                matched.groupdict().get("area") or "", QueryParams(scope["query_string"])
            )
        except (ValueError, DomainError):
            return False  # the route gives the same answer, in its own words
        request = Request(scope, receive)
        services = request.app.state.container
        assert isinstance(services, Container)
        try:
            caller = await authenticated(request, services)
        except DomainError:
            return False  # 401: the app answers it
        scope["route"] = route  # the request log and metrics name the route
        try:
            enforce_rate_limit(request, caller.user_id)
            preview = await services.previews.preview(caller, file_id, preview_request)
            response = preview_routes.preview_response(preview)
        except (DomainError, HTTPException) as error:
            response = await handled_error(request, error)
        await response(scope, receive, send)
        return True
