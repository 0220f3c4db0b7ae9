"""Every error is JSON `{"message", "traceId"}` (DECISIONS.md#errors); never 422."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from wschats.api.rendering import JsonResponse
from wschats.domain.errors import (
    BadRequest,
    Conflict,
    DependencyFailed,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
    Unauthorized,
)

log = logging.getLogger("wschats.api")

STATUS_OF: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    TooManyRequests: 429,
}


def trace_id(request: Request) -> str:
    value = getattr(request.state, "trace_id", None)
    if value is None:
        value = request.state.trace_id = uuid.uuid4().hex
    return str(value)


def error_response(request: Request, status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JsonResponse(
        {"message": message, "traceId": trace_id(request)}, status_code=status, headers=headers
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, DependencyFailed):
        status = 500 if exc.dependency.required else 424
        log.error(
            "dependency %s failed: %s",
            exc.dependency.value,
            exc,
            extra={"traceId": trace_id(request)},
        )
        return error_response(request, status, exc.message)
    status = next((s for cls, s in STATUS_OF.items() if isinstance(exc, cls)), 500)
    response = error_response(request, status, exc.message)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = loc[0] if loc else "request"
    field = ".".join(loc[1:])
    if error.get("type") == "extra_forbidden":
        return f"Unknown field '{field}' in {where}"
    if error.get("type") == "missing":
        return f"Missing {where} {field}".strip() if field else f"Missing {where}"
    if error.get("type") == "json_invalid":
        return "The body is not valid JSON"
    message = str(error.get("msg", "invalid value"))
    return f"Invalid {where} {field}: {message}" if field else f"Invalid {where}: {message}"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    # A malformed id in the path is "no such resource", as in the original.
    if any(e.get("loc", ("",))[0] == "path" for e in errors):
        return error_response(request, 404, "Not found: malformed identifier in the path")
    return error_response(request, 400, "; ".join(_describe(e) for e in errors[:5]))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    response = error_response(
        request, exc.status_code, str(exc.detail) or messages.get(exc.status_code, "Error")
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Runs outside the trace id middleware (in ServerErrorMiddleware): pass the id along.
    log.exception("unexpected error", exc_info=exc, extra={"traceId": trace_id(request)})
    response = error_response(request, 500, "Internal server error")
    # This handler runs outside every middleware, the one adding nosniff included.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def handled_error(request: Request, exc: DomainError | StarletteHTTPException) -> Response:
    """The answer the app's handlers give to `exc`, for code that runs before routing."""
    if isinstance(exc, DomainError):
        return await _domain_error(request, exc)
    return await _http_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
