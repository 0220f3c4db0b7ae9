"""Upload requests: the raw body with its headers (behaviour.md#upload-attachment).

The body is handed on as a stream of the chunks the server received, never gathered: memory
does not grow with the size of a file. The stream holds the request to its `Content-Length`:
a body that turns out shorter or longer fails with 400, which makes the store discard what it
had written. (Behind an HTTP/1.1 server the framing already stops a body at its declared
length; the check matters wherever a body reaches the application unframed.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Request
from starlette.requests import ClientDisconnect

from wschats.api.deps import Services, authenticated, request_token
from wschats.api.server.direct_body import EXTENSION, BodyHandover
from wschats.domain.errors import BadRequest
from wschats.ports import DirectSource

_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class UploadHeaders:
    """The headers every upload must carry (checked before authentication, as the original)."""

    file_name: str
    mime_type: str
    content_length: int


HOW_TO_UPLOAD = (
    "send the file's bytes as the request body itself, with the headers fileName (UTF-8 or "
    "\\uXXXX-escaped), mimeType and Content-Length (uploads are not chunked)"
)


async def upload_headers(
    request: Request,
    services: Services,
    file_name: Annotated[
        str | None,
        Header(alias="fileName", description="file name, UTF-8 or \\uXXXX-escaped"),
    ] = None,
    mime_type: Annotated[
        str | None, Header(alias="mimeType", description="mime type; may be empty")
    ] = None,
    content_length: Annotated[str | None, Header(alias="Content-Length")] = None,
) -> UploadHeaders:
    missing = [
        name
        for name, value in (
            ("fileName", file_name),
            ("mimeType", mime_type),
            ("Content-Length", content_length),
        )
        if value is None
    ]
    content_type = request.headers.get("content-type", "")
    problem = None
    if content_type.lower().startswith("multipart/form-data"):
        problem = f"Uploads are not multipart/form-data: {HOW_TO_UPLOAD}"
    elif missing:
        problem = f"Missing header(s): {', '.join(missing)}; {HOW_TO_UPLOAD}"
    if problem is not None:
        # Credentials, when sent, are checked first, as the original's filter ran before any
        # header was read: a bad token is a 401, and a good one names the caller in the log.
        if request_token(request) is not None:
            await authenticated(request, services)
        raise BadRequest(problem)
    assert file_name is not None and mime_type is not None and content_length is not None
    if _DIGITS.fullmatch(content_length.strip()) is None:
        raise BadRequest(f"Content-Length must be a number of bytes, got {content_length!r}")
    return UploadHeaders(
        file_name=file_name, mime_type=mime_type, content_length=int(content_length.strip())
    )


class RequestBody:
    """The request body: iterated as received (`body_stream`), or, once and before any
    iteration, taken directly from the connection where the server offers that."""

    def __init__(self, request: Request, declared: int) -> None:
        self._request = request
        self._declared = declared
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._started = True
        return body_stream(self._request, self._declared)

    def direct_source(self) -> DirectSource | None:
        handover = self._request.scope.get("extensions", {}).get(EXTENSION)
        if self._started or not isinstance(handover, BodyHandover):
            return None
        source = handover.claim()
        self._started = source is not None
        return source


async def body_stream(request: Request, declared: int) -> AsyncIterator[bytes]:
    """The request body as received, exactly `declared` bytes long or a `BadRequest`."""
    received = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            received += len(chunk)
            if received > declared:
                raise BadRequest(f"The body is longer than its Content-Length ({declared})")
            yield chunk
    except ClientDisconnect:
        raise BadRequest("The client went away before the end of the body") from None
    if received < declared:
        raise BadRequest(
            f"The body is shorter ({received} bytes) than its Content-Length ({declared})"
        )
