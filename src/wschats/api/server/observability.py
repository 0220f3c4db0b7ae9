"""Structured logs: one line per HTTP request, and the request's trace id on every record.

`wschats serve` calls `configure_logging`; the app itself never touches the logging setup, so
tests and embedding programs keep theirs. The request line is written by `RequestObserver` on
the logger `wschats.requests`, with the fields method, route (the template, such as
`/rooms/{roomId}`), status, duration_ms and user (the caller's id, null when anonymous).
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wschats.api.server.metrics import Metrics
from wschats.domain.model import Principal

REQUEST_LOGGER = "wschats.requests"
request_log = logging.getLogger(REQUEST_LOGGER)

# The trace id of the request being served, set by TraceIdMiddleware: log records written
# anywhere while the request runs carry it without each call passing it along.
current_trace_id: ContextVar[str | None] = ContextVar("wschats_trace_id", default=None)

# Scope state key under which the auth dependency leaves the authenticated Principal.
PRINCIPAL_STATE = "principal"

LogFormat = Literal["json", "text"]


def _trace_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "traceId", None)
    return str(explicit) if explicit else current_trace_id.get()


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, traceId, the record's
    `fields` (passed as `extra={"fields": {...}}`), and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = _trace_of(record)
        if trace:
            entry["traceId"] = trace
        entry.update(_fields_of(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            # orjson: a request line is written for every request, at a fifth of the cost.
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # what orjson refuses outright (an int over 64 bits): never fail
            return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For people at a terminal: the classic line, then `key=value` for the fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _fields_of(record)
        trace = _trace_of(record)
        if trace:
            extras["traceId"] = trace
        if not extras:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the line
        pairs = " ".join(f"{key}={value}" for key, value in extras.items())
        return f"{first} {pairs}{newline}{rest}"


def configure_logging(log_format: LogFormat, level: str) -> None:
    """Send every record (wschats, uvicorn, libraries) to stderr in one format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (`/rooms/{roomId}`), None when nothing matched:
    concrete paths would make one metric series per room."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


class RequestObserver:
    """Logs one line per HTTP request and feeds the request metrics; counts open websockets.

    Sits inside TraceIdMiddleware and PathNormalizer, so the trace id is known and the route
    is the one the router matched after the base path was removed.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket" and self.metrics is not None:
            await self._websocket(self.metrics, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status: int | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            # An exception that escaped every handler becomes a 500 (ServerErrorMiddleware).
            final_status = status if status is not None else 500
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = str(scope.get("method", ""))
            caller = state.get(PRINCIPAL_STATE)
            user = str(caller.user_id) if isinstance(caller, Principal) else None
            request_log.info(
                "request",
                extra={
                    "traceId": state.get("trace_id"),
                    "fields": {
                        "method": method,
                        "route": route,
                        "status": final_status,
                        "duration_ms": round(seconds * 1000, 3),
                        "user": user,
                    },
                },
            )
            if self.metrics is not None:
                self.metrics.observe_request(method, route, final_status, seconds)

    async def _websocket(
        self, metrics: Metrics, scope: Scope, receive: Receive, send: Send
    ) -> None:
        accepted = False

        async def send_observed(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                metrics.websocket_opened()
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if accepted:
                metrics.websocket_closed()
