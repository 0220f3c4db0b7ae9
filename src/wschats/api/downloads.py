"""File responses: safe headers, ETag, Range (DECISIONS.md#files).

A file's bytes never change under its id (a new upload is a new id), so the id is a strong
ETag and a cached copy never needs more than a revalidation.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from wschats.api.errors import error_response
from wschats.domain.model import FileMetadata

# Types a browser may show in place: plain text, common images except SVG (scripts), audio,
# video and PDF. Everything else is offered as a download.
_INLINE_TYPES = frozenset(
    {"text/plain", "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp",
     "application/pdf"}
)  # fmt: skip
_INLINE_FAMILIES = ("audio/", "video/")
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# A position with more digits than this is past the end of any file. Reading it as such keeps
# RFC 9110's meaning without converting it: Python refuses to convert over 4300 digits.
_MAX_POSITION_DIGITS = 18
_BEYOND_ANY_FILE = 10**_MAX_POSITION_DIGITS
_ASCII_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\%]')

# Pictures are fetched with a `?<pictureUpdatedAt>` cache buster; an hour keeps a picture
# fetched without one from going stale for long.
PICTURE_CACHE_CONTROL = "private, max-age=3600"
ATTACHMENT_CACHE_CONTROL = "private, max-age=0, must-revalidate"

Reader = Callable[[FileMetadata, int, int | None], Awaitable[AsyncIterator[bytes]]]


def content_disposition(name: str, mime_type: str) -> str:
    essence = mime_type.split(";", 1)[0].strip().lower()
    inline = essence in _INLINE_TYPES or essence.startswith(_INLINE_FAMILIES)
    fallback = _ASCII_UNSAFE.sub("_", name).strip() or "file"
    return (
        f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )


def _position(digits: str) -> int:
    """A byte position or suffix length of a Range header, however many digits it has."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= _MAX_POSITION_DIGITS else _BEYOND_ANY_FILE


def _requested_range(request: Request, etag: str, size: int) -> tuple[int, int] | str | None:
    """The single byte range asked for as (first, last) inclusive; None for the whole file;
    "unsatisfiable" for a range that selects nothing. Malformed or multiple ranges are
    ignored (the whole file is sent), as RFC 9110 allows. Positions of any length keep their
    RFC meaning: a suffix longer than the file is the whole file (206), a first position past
    the end is unsatisfiable (416), a last one past the end stops at the end."""
    header = request.headers.get("range")
    if header is None:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        suffix = _position(last_text)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    first = _position(first_text)
    last = _position(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


async def file_response(
    request: Request, metadata: FileMetadata, read: Reader, *, cache_control: str
) -> Response:
    etag = f'"{metadata.id}"'
    size = metadata.size
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    wanted = _requested_range(request, etag, size)
    if wanted == "unsatisfiable":
        response = error_response(request, 416, f"The range is outside the file ({size} bytes)")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    headers["Content-Type"] = metadata.mime_type
    headers["Content-Disposition"] = content_disposition(metadata.name, metadata.mime_type)
    if isinstance(wanted, tuple):
        first, last = wanted
        chunks = await read(metadata, first, last + 1)
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        headers["Content-Length"] = str(last - first + 1)
        return StreamingResponse(chunks, status_code=206, headers=headers)
    chunks = await read(metadata, 0, None)
    headers["Content-Length"] = str(size)
    return StreamingResponse(chunks, status_code=200, headers=headers)
