"""Request limits: JSON body size (ASGI middleware), list lengths (request schemas) and the
per-user rate limits (checked by the auth dependency, once the caller is known).

Header size is limited by the HTTP server itself (`wschats serve`, h11).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any
from uuid import UUID

from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wschats.config import Settings
from wschats.services.ratelimit import RateLimiter, RouteGroup

DEFAULT_MAX_LIST_LENGTH = Settings.model_fields["max_list_length"].get_default()

# Set per request by RequestLimits from the app's settings, read by the schema validators:
# apps with different settings can share one process (tests), so no module-wide constant.
_max_list_length: ContextVar[int] = ContextVar(
    "wschats_max_list_length", default=DEFAULT_MAX_LIST_LENGTH
)


def bounded_list(value: Any) -> Any:
    """A `BeforeValidator` for request list fields: over `WSC_MAX_LIST_LENGTH` items is a 400,
    decided before any item is validated."""
    limit = _max_list_length.get()
    if isinstance(value, list) and len(value) > limit:
        raise PydanticCustomError(
            "too_long",
            "at most {limit} items are accepted, got {count}",
            {"limit": limit, "count": len(value)},
        )
    return value


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def takes_json_body(scope: Scope) -> bool:
    """Whether the matched route reads its body whole and parses it (FastAPI body parameter);
    upload routes stream their body instead. Decided by the route, not by request headers a
    client could choose to slip a large body past the limit."""
    return getattr(scope.get("route"), "body_field", None) is not None


class RequestLimits:
    """Refuses a body over `max_json_body` bytes with 413 on routes that take a JSON body:
    from `Content-Length` before anything is read, or while reading a body sent without one.
    Uploads are not affected. Also makes the app's list-length limit visible to the request
    schema validators."""

    def __init__(self, app: ASGIApp, *, max_json_body: int, max_list_length: int) -> None:
        self.app = app
        self.max_json_body = max_json_body
        self.max_list_length = max_list_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _max_list_length.set(self.max_list_length)
        try:
            await self.app(scope, self._limited(scope, receive), send)
        finally:
            _max_list_length.reset(token)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        received = 0
        too_large = f"A JSON body is limited to {self.max_json_body // 1024} KB"

        async def limited() -> Message:
            # Called by the app once routing is done, so the route is known here. Raising
            # inside the app's body read lets the error handlers answer (JSON, traceId).
            nonlocal received
            if not takes_json_body(scope):
                return await receive()
            declared = _content_length(scope)
            if declared is not None and declared > self.max_json_body:
                raise HTTPException(413, too_large)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_json_body:
                    raise HTTPException(413, too_large)
            return message

        return limited


def rate_limiter(settings: Settings) -> RateLimiter | None:
    """The per-user limiter the settings ask for, or None when every group is unlimited."""
    limiter = RateLimiter(
        {
            RouteGroup.READ: settings.rate_limit_read_per_minute,
            RouteGroup.WRITE: settings.rate_limit_write_per_minute,
            RouteGroup.UPLOAD: settings.rate_limit_upload_per_minute,
        }
    )
    return limiter if limiter.enabled else None


def route_group(request: Request) -> RouteGroup:
    """Reads are GET/HEAD/OPTIONS; a change sending a body to a route that streams it (an
    attachment or a picture) is an upload; every other change is a write."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return RouteGroup.READ
    has_body = _content_length(request.scope) or "transfer-encoding" in request.headers
    if has_body and not takes_json_body(request.scope):
        return RouteGroup.UPLOAD
    return RouteGroup.WRITE


def enforce_rate_limit(request: Request, user_id: UUID) -> None:
    """Spend one request of the caller's budget for this route group; 429 with `Retry-After`
    when it is empty. Buckets live in this process (N processes allow N times the rate)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if not isinstance(limiter, RateLimiter):
        return
    wait = limiter.acquire(user_id, route_group(request))
    if wait:
        raise HTTPException(
            429,
            f"Too many requests: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
