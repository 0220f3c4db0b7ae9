"""ASGI middleware: path normalisation (base path, trailing slash), trace ids, and the
headers every response carries."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wschats.api.server.observability import current_trace_id


class PathNormalizer:
    """Serves every path at the root and under the base path, with or without a trailing
    slash (DECISIONS.md#serving), by rewriting the path before routing."""

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        self.app = app
        self.base_path = base_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            base = self.base_path
            if base and (path == base or path.startswith(base + "/")):
                path = path[len(base) :] or "/"
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


class TraceIdMiddleware:
    """Gives each request a trace id (error bodies and logs carry it) and echoes it back.

    Every response also gets `X-Content-Type-Options: nosniff` here, so a browser never reads
    a JSON body (which may echo text a user wrote) as HTML or script; downloads that set it
    themselves do not get it twice. One wrapper of `send` for both headers, not two layers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = uuid.uuid4().hex
        # Outermost, so the state dict it creates is shared by every later copy of the scope
        # (PathNormalizer copies it) and by the 500 handler, which sees the original scope.
        scope.setdefault("state", {})["trace_id"] = trace

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-trace-id", trace.encode()))
                if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                    headers.append(_NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        token = current_trace_id.set(trace)
        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            current_trace_id.reset(token)


_NOSNIFF = (b"x-content-type-options", b"nosniff")
