"""Readers of stored bytes (`BlobStore.get`) handed on to a response: the first chunk read
ahead (to turn a storage failure into an error status rather than a body cut short), then
the rest, and the reader closed as soon as it is done with, whatever ends it.

Closing never raises. A reader that fails to close has either been read to its end (the
body has been sent: failing now would only cut the response) or is being closed because
reading it failed (its error is the one that matters and must not be replaced). So the
failure is logged, and what the caller sees is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

log = logging.getLogger(__name__)


async def prepended(first: bytes, rest: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """`first` (unless empty), then what is left of `rest`; `rest` is closed when this ends,
    is closed, or fails."""
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await close_reader(rest)


async def close_reader(chunks: AsyncIterator[bytes]) -> None:
    """Release a reader now (file handle, connection), not when it is collected. Never raises
    (see the module): a failure is logged."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.warning("could not close a reader of stored bytes", exc_info=True)
