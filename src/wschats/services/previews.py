"""Previews of a room's files (behaviour.md#previews, DECISIONS.md#previews), cached in storage.

A rendered preview is stored under `preview_prefix(file_id)`, named by the request's
normalised cache key, so equal requests share one entry and the file's deletion removes it
with the rest of the file.

Small previews (thumbnails, mostly) are also kept in memory, bounded, so a repeat costs no
storage reads. That is safe because a file's bytes never change (a new picture or upload is a
new file id) and the access check, which reads the database, runs before any cache: a
deleted file is a 404 whatever this process still holds.

Identical requests share one render (a "flight"): whoever asks while it runs, or while its
result is being stored, gets the same bytes. The result is stored after it has been sent,
so the first caller does not wait for the storage write (an fsync, or an S3 upload).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from wschats.domain.access import check_file_reach
from wschats.domain.errors import Dependency, DependencyFailed, DomainError, NotFound
from wschats.domain.files import blob_key, preview_prefix
from wschats.domain.model import Principal
from wschats.domain.previews import (
    PreviewRequest,
    Rendered,
    check_source,
    rendered_mime_type,
)
from wschats.ports import BlobStore, Database, Previewer
from wschats.services.blob_readers import close_reader, prepended
from wschats.services.memory_cache import BoundedCache

log = logging.getLogger(__name__)

# Previews up to this size are also kept in memory (a 256x256 thumbnail is a few KB).
MEMORY_ENTRY_BYTES = 256 * 1024


@dataclass
class PreviewFile:
    """A preview ready to send: its type, its length, and its bytes, either whole in
    `content` or, for a large one read from storage, as `chunks` (read once)."""

    mime_type: str
    size: int
    content: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None


# Part of every cache key: raised when renders of the same request change, so entries made
# before are not served again (2: previews no longer carry their source's metadata).
RENDERING_VERSION = 2


def cache_key(file_id: UUID, request: PreviewRequest) -> str:
    return f"{preview_prefix(file_id)}r{RENDERING_VERSION}-{request.cache_key()}"


class PreviewService:
    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        previewer: Previewer,
        on_cache_lookup: Callable[[bool], None] | None = None,
        memory_cache_bytes: int = 0,
    ) -> None:
        self._db = database
        self._blobs = blobs
        self._previewer = previewer
        self._memory: BoundedCache[PreviewFile] = BoundedCache(
            memory_cache_bytes, MEMORY_ENTRY_BYTES
        )
        # Told True for a cache hit and False for a miss (the metrics count them).
        self._on_cache_lookup = on_cache_lookup or (lambda hit: None)
        # Renders in progress, and rendered results not yet in the cache, by cache key.
        self._flights: dict[str, asyncio.Task[Rendered]] = {}
        self._stores: set[asyncio.Task[None]] = set()

    async def preview(
        self, caller: Principal, file_id: UUID, request: PreviewRequest
    ) -> PreviewFile:
        """404 for an unknown file or one outside any room, 404/403 unless the caller is a
        member of its room, 400 if the file is not of the kind asked or cannot be rendered,
        424 if the previewer or storage fails."""
        await self._check_access(caller, file_id, request)
        key = cache_key(file_id, request)
        kept = self._memory.get(key)
        if kept is not None:
            self._on_cache_lookup(True)
            return kept
        flight = self._flights.get(key)
        if flight is None:
            cached = await self._cached(key)
            self._on_cache_lookup(cached is not None)
            if cached is not None:
                return cached
            # Another request may have taken off while we looked in the cache.
            flight = self._flights.get(key) or self._take_off(file_id, key, request)
        # Shielded: a caller that goes away does not cancel the render others wait for.
        rendered = await asyncio.shield(flight)
        return PreviewFile(rendered.mime_type, len(rendered.content), content=rendered.content)

    async def settle(self) -> None:
        """Wait until every render and cache write in progress has finished."""
        while self._flights or self._stores:
            await asyncio.gather(*self._flights.values(), *self._stores, return_exceptions=True)

    async def close(self) -> None:
        await self.settle()

    async def _check_access(
        self, caller: Principal, file_id: UUID, request: PreviewRequest
    ) -> None:
        # No snapshot needed: a file or membership changing meanwhile only turns this into
        # the 404/403 a moment later would give.
        async with self._db.reads() as uow:
            reach = await uow.files.reach(file_id, caller.user_id)
        if reach is None or reach.file.room_id is None:
            # A user's picture belongs to no room: there is no room to be a member of.
            raise NotFound(f"File {file_id} not found")
        check_file_reach(reach, caller.user_id)
        check_source(request.kind, reach.file.mime_type)

    async def _cached(self, key: str) -> PreviewFile | None:
        """The stored preview, or None if there is none (or it cannot be read: render again)."""
        try:
            size = await self._blobs.size(key)
            if size is None:
                return None
            chunks = self._blobs.get(key)
            if size <= self._memory.max_entry_bytes:
                content = b"".join([chunk async for chunk in chunks])
                head = content
            else:
                content = None
                head = await anext(chunks, b"")
        except (NotFound, DependencyFailed) as error:
            log.warning("preview cache entry %s unreadable, rendering again: %s", key, error)
            return None
        mime_type = rendered_mime_type(head)
        if mime_type is None:
            await close_reader(chunks)
            log.warning("preview cache entry %s holds no known format, rendering again", key)
            return None
        if content is not None:
            whole = PreviewFile(mime_type, size, content=content)
            self._memory.put(key, whole, size)
            return whole
        return PreviewFile(mime_type, size, chunks=prepended(head, chunks))

    def _take_off(self, file_id: UUID, key: str, request: PreviewRequest) -> asyncio.Task[Rendered]:
        flight = asyncio.create_task(self._render(file_id, request))
        self._flights[key] = flight
        flight.add_done_callback(partial(self._landed, file_id, key))
        return flight

    def _landed(self, file_id: UUID, key: str, flight: asyncio.Task[Rendered]) -> None:
        if flight.cancelled() or flight.exception() is not None:
            del self._flights[key]  # nothing to keep: the next request tries again
            return
        rendered = flight.result()
        size = len(rendered.content)
        self._memory.put(key, PreviewFile(rendered.mime_type, size, content=rendered.content), size)
        store = asyncio.create_task(self._store(file_id, key, rendered))
        self._stores.add(store)
        store.add_done_callback(partial(self._stored, key))

    def _stored(self, key: str, store: asyncio.Task[None]) -> None:
        self._stores.discard(store)
        del self._flights[key]  # from now on the cache answers

    async def _render(self, file_id: UUID, request: PreviewRequest) -> Rendered:
        async with self._blobs.local_path(blob_key(file_id)) as source:
            try:
                return await self._previewer.render(request, source)
            except DomainError:
                raise
            except Exception as error:
                # Whatever a previewer adapter lets escape is its failure, not the caller's.
                log.exception("previewer failed on file %s", file_id)
                raise DependencyFailed(
                    Dependency.PREVIEWER, f"the previewer failed: {error!r}"
                ) from error

    async def _store(self, file_id: UUID, key: str, rendered: Rendered) -> None:
        """Cache the result; any failure only costs a render next time."""
        try:
            await self._blobs.put(key, _once(rendered.content))
            # The file may have been deleted while we rendered, its previews removed before
            # this entry existed: remove it ourselves. (A deletion committed after this read
            # removes the entry itself: its prefix removal runs after its commit.)
            async with self._db.reads() as uow:  # one statement: no snapshot needed
                still_there = await uow.files.get(file_id) is not None
            if not still_there:
                await self._blobs.delete_prefix(preview_prefix(file_id))
        except Exception:
            log.exception("could not cache preview %s", key)


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content
