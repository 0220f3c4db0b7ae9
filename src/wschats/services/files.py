"""What attachments and pictures share: storing a file's bytes so that its metadata row and
its bytes exist together or not at all, and reading them back.

An upload puts the bytes first, under a key derived from a new server-generated id, and only
then records the row. Whatever fails after the put (a database error, a cancelled request) the
bytes are removed again; the recording runs shielded from cancellation, so a client that goes
away cannot leave the row without its bytes or the bytes without their row. Only a killed
process can leave bytes without a row; the start-up sweep (services/storage.py) removes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from wschats.domain.errors import (
    BadRequest,
    Dependency,
    DependencyFailed,
    NotFound,
    PayloadTooLarge,
)
from wschats.domain.files import blob_key
from wschats.domain.model import FileMetadata
from wschats.ports import BlobStore, DirectBody, DirectSource
from wschats.services.blob_readers import close_reader, prepended

log = logging.getLogger("wschats.files")

T = TypeVar("T")


class FileStore:
    """The bytes of files, on the storage_service port."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._recording: set[asyncio.Task[object]] = set()

    async def put(self, file_id: UUID, chunks: AsyncIterable[bytes]) -> int:
        """Store the bytes of a new file; nothing is left behind if it fails."""
        return await self._blobs.put(blob_key(file_id), chunks)

    async def copy(self, source_id: UUID, target_id: UUID) -> None:
        await self._blobs.copy(blob_key(source_id), blob_key(target_id))

    async def record(self, file_ids: list[UUID], write: Callable[[], Awaitable[T]]) -> T:
        """Run `write` (which commits the rows of `file_ids`) to its end even if the caller is
        cancelled; if it fails, remove the bytes stored for `file_ids`."""

        async def write_or_discard() -> T:
            try:
                return await write()
            except BaseException:
                for file_id in file_ids:
                    await self.discard(file_id)
                raise

        task: asyncio.Task[T] = asyncio.create_task(write_or_discard())
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        return await asyncio.shield(task)

    async def discard(self, file_id: UUID) -> None:
        """Remove bytes that have no row (never raises: a failure leaves an orphan that the
        storage check finds)."""
        try:
            await self._blobs.delete(blob_key(file_id))
        except Exception as error:  # logged; the storage check repairs it
            log.warning("could not remove the bytes of file %s: %s", file_id, error)

    async def read(
        self, metadata: FileMetadata, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes [start, end) of a stored file.

        The first chunk is read before returning, so a storage failure or missing bytes
        become an error status (424) instead of a response cut short.
        """
        chunks = self._blobs.get(blob_key(metadata.id), start, end)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except NotFound:
            await close_reader(chunks)
            raise DependencyFailed(
                Dependency.STORAGE, f"the bytes of file {metadata.id} are missing from storage"
            ) from None
        except BaseException:
            await close_reader(chunks)
            raise
        return prepended(first, chunks)

    async def close(self) -> None:
        """Let recordings in flight finish (their bytes are kept or removed consistently)."""
        if self._recording:
            with suppress(Exception):
                await asyncio.gather(*self._recording, return_exceptions=True)


@dataclass(frozen=True)
class _Failed:
    error: Exception


_END = object()


async def prefetched(chunks: AsyncIterable[bytes], depth: int = 16) -> AsyncIterator[bytes]:
    """`chunks`, read ahead by up to `depth` chunks in a task of their own, so receiving the
    next bytes overlaps with storing the previous ones (memory stays bounded by `depth`)."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for chunk in chunks:
                await queue.put(chunk)
        except Exception as error:  # handed to the consumer, which raises it
            await queue.put(_Failed(error))
            return
        await queue.put(_END)

    producer = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            assert isinstance(item, bytes)
            yield item
    finally:
        producer.cancel()
        with suppress(asyncio.CancelledError):
            await producer


class UploadStream:
    """An upload's body on its way to storage: capped at `limit` bytes and read ahead; or,
    where the body offers it, taken directly from the connection. That path moves exactly
    the declared length, which the caller has checked against `limit` already."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit

    def __aiter__(self) -> AsyncIterator[bytes]:
        return prefetched(capped(self._chunks, self._limit))

    def direct_source(self) -> DirectSource | None:
        return self._chunks.direct_source() if isinstance(self._chunks, DirectBody) else None


async def capped(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    """`chunks`, failing with `PayloadTooLarge` as soon as more than `limit` bytes came."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The file is larger than {limit} bytes")
        yield chunk


async def gathered(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """All of `chunks` in memory (pictures), failing with `BadRequest` past `limit` bytes."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"The picture is larger than {limit} bytes")
    return bytes(data)
