"""Consistency of file rows and stored bytes: `wschats storage check [--repair]` and the sweep
every server runs at start-up.

An upload stores its bytes before it commits its row, and removes them if the commit fails, so
only a killed process leaves bytes without a row; a delete removes the row first, so a storage
failure afterwards leaves bytes without a row too. A row without bytes should never happen.

The check may run while servers are serving: bytes whose row is about to be committed look
orphaned for a moment. So every candidate found is checked again after a grace period longer
than an upload takes from its bytes being stored to its row being committed, and only what is
still orphaned then is reported (and, on repair, removed).

Neither side is ever held whole: rows are read in pages by id and their bytes looked for a
page at a time, stored keys are listed and their rows looked for a page at a time. Only the
candidates are kept until the grace period has passed, and at most `MAX_CANDIDATES` of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable, Iterator, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from wschats.domain.files import blob_key
from wschats.domain.model import FileType
from wschats.ports import BlobStore, Database
from wschats.services.writes import Writes

log = logging.getLogger("wschats.storage")

FILES_PREFIX = "files/"
# An upload commits its row within a few database timeouts of storing its bytes (a connection,
# a lock, the statements, the commit); the start-up sweep waits this many before it trusts
# that bytes without a row are orphans.
SWEEP_GRACE_PER_DATABASE_TIMEOUT = 6
PREVIEWS_PREFIX = "previews/"
# Ids or keys asked about per statement or storage call; a check holds about this many at once.
PAGE_SIZE = 1000
# Candidates kept by one check: a killed upload leaves a few, so this many means a damaged
# installation, whose orphans are then removed over several runs rather than held at once.
MAX_CANDIDATES = 10_000

T = TypeVar("T")


@dataclass
class StorageReport:
    orphan_blobs: list[str] = field(default_factory=list)  # keys of bytes without a row
    orphan_rows: list[UUID] = field(default_factory=list)  # ids of rows without bytes
    # More candidates were found than one check keeps (`MAX_CANDIDATES`): the rest are left
    # for the next one.
    incomplete: bool = False

    @property
    def clean(self) -> bool:
        return not self.orphan_blobs and not self.orphan_rows


def sweep_grace_seconds(database_timeout_seconds: float) -> float:
    return SWEEP_GRACE_PER_DATABASE_TIMEOUT * database_timeout_seconds


def _file_id(key: str, prefix: str) -> UUID | None:
    """The file id a key under `prefix` belongs to (`files/<id>`, `previews/<id>/...`)."""
    rest = key.removeprefix(prefix)
    head = rest.split("/", 1)[0]
    if prefix == FILES_PREFIX and "/" in rest:
        return None
    try:
        return UUID(head)
    except ValueError:
        return None


class StorageCheck:
    """`page_size` bounds what one statement or storage call is asked about (and so the
    memory of a check, with `max_candidates`, whatever the number of files)."""

    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        *,
        page_size: int = PAGE_SIZE,
        max_candidates: int = MAX_CANDIDATES,
    ) -> None:
        if page_size < 1 or max_candidates < 1:
            raise ValueError("page_size and max_candidates must be positive")
        self._db = database
        self._blobs = blobs
        self._writes = Writes(database, blobs)
        self._page_size = page_size
        self._max_candidates = max_candidates
        self._sweep: asyncio.Task[None] | None = None

    async def check(self, *, grace_seconds: float = 0.0) -> StorageReport:
        """Orphans on either side, confirmed after `grace_seconds` (see the module's doc)."""
        candidates = await self._scan()
        if candidates.clean:
            return candidates
        if grace_seconds > 0:
            await asyncio.sleep(grace_seconds)
        return await self._confirmed(candidates)

    async def repair(self, report: StorageReport) -> None:
        """Remove the orphans of `report` (each one checked again just before)."""
        for key in report.orphan_blobs:
            await self._blobs.delete(key)
        for file_id in report.orphan_rows:
            await self._delete_row(file_id)

    # ---------------------------------------------------------------- start-up sweep

    def start_sweep(self, grace_seconds: float) -> None:
        """Check and repair in the background (a killed server's leftovers)."""
        self._sweep = asyncio.create_task(self._run_sweep(grace_seconds), name="storage-sweep")

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._sweep

    async def _run_sweep(self, grace_seconds: float) -> None:
        try:
            report = await self.check(grace_seconds=grace_seconds)
            await self.repair(report)
        except Exception:
            log.exception("the start-up storage sweep failed; run `wschats storage check`")
            return
        if not report.clean:
            log.warning(
                "start-up storage sweep removed %d stored files without a row and %d rows "
                "without stored bytes",
                len(report.orphan_blobs),
                len(report.orphan_rows),
            )

    # ---------------------------------------------------------------- helpers

    async def _scan(self) -> StorageReport:
        """The candidates, a page at a time on both sides, at most `max_candidates`."""
        report = StorageReport()
        # Rows first, each page of them before their bytes are looked for: bytes are stored
        # before their row is committed, so a file added meanwhile is never a row without bytes.
        after: UUID | None = None
        while True:
            async with self._db.unit_of_work() as uow:
                ids = await uow.files.ids_after(after, self._page_size)
            if not ids:
                break
            report.orphan_rows += await self._rows_without_bytes(ids)
            if self._full(report):
                return report
            if len(ids) < self._page_size:
                break
            after = ids[-1]
        for prefix in (FILES_PREFIX, PREVIEWS_PREFIX):
            async with aclosing(self._key_pages(prefix)) as pages:
                async for keys in pages:
                    report.orphan_blobs += await self._bytes_without_row(keys)
                    if self._full(report):
                        return report
        return report

    async def _confirmed(self, candidates: StorageReport) -> StorageReport:
        """The candidates still orphaned, asked again a page at a time."""
        report = StorageReport(incomplete=candidates.incomplete)
        for keys in _pages(candidates.orphan_blobs, self._page_size):
            report.orphan_blobs += await self._bytes_without_row(keys)
        for ids in _pages(candidates.orphan_rows, self._page_size):
            async with self._db.unit_of_work() as uow:
                rows = await uow.files.existing_ids(ids)
            report.orphan_rows += await self._rows_without_bytes([i for i in ids if i in rows])
        return report

    async def _rows_without_bytes(self, ids: Sequence[UUID]) -> list[UUID]:
        if not ids:
            return []
        stored = await self._blobs.existing([blob_key(file_id) for file_id in ids])
        return [file_id for file_id in ids if blob_key(file_id) not in stored]

    async def _bytes_without_row(self, keys: Sequence[str]) -> list[str]:
        owners = [_blob_owner(key) for key in keys]  # parsed once: a page is many keys
        asked = sorted({owner for owner in owners if owner is not None})
        rows: set[UUID] = set()
        if asked:
            async with self._db.unit_of_work() as uow:
                rows = await uow.files.existing_ids(asked)
        return [key for key, owner in zip(keys, owners, strict=True) if owner not in rows]

    async def _key_pages(self, prefix: str) -> AsyncGenerator[list[str], None]:
        keys = self._blobs.keys(prefix)
        try:
            page: list[str] = []
            async for key in keys:
                page.append(key)
                if len(page) == self._page_size:
                    yield page
                    page = []
            if page:
                yield page
        finally:
            # Left early when the candidates are full: let the store end its listing.
            close = getattr(keys, "aclose", None)
            if close is not None:
                await close()

    def _full(self, report: StorageReport) -> bool:
        """Whether `report` holds more than `max_candidates`; if so it is trimmed to them,
        marked incomplete, and the scan stops."""
        if len(report.orphan_rows) + len(report.orphan_blobs) <= self._max_candidates:
            return False
        del report.orphan_rows[self._max_candidates :]
        del report.orphan_blobs[self._max_candidates - len(report.orphan_rows) :]
        report.incomplete = True
        log.warning(
            "the storage check keeps %d candidates at most; the rest wait for the next start "
            "or `wschats storage check`",
            self._max_candidates,
        )
        return True

    async def _delete_row(self, file_id: UUID) -> None:
        async with self._writes.transaction() as tx:
            metadata = await tx.files.get(file_id)
            if metadata is None or await self._blobs.size(blob_key(file_id)) is not None:
                return
            await tx.files.delete(file_id)
            # A picture that is gone must not be announced any more.
            if metadata.type is FileType.ROOM_AVATAR and metadata.room_id is not None:
                room = await tx.rooms.get(metadata.room_id)
                left = await tx.files.of_room(metadata.room_id, FileType.ROOM_AVATAR)
                if room is not None and not left:
                    room.picture_updated_at = None
                    await tx.rooms.update(room)
            elif metadata.type is FileType.USER_AVATAR:
                chats = await tx.chats_users.get(metadata.user_id)
                if chats is not None and await tx.files.user_avatar(metadata.user_id) is None:
                    chats.picture_updated_at = None
                    await tx.chats_users.save(chats)
            tx.forget_file(file_id)  # its previews (its bytes are known to be gone)


def _pages(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _blob_owner(key: str) -> UUID | None:
    for prefix in (FILES_PREFIX, PREVIEWS_PREFIX):
        if key.startswith(prefix):
            return _file_id(key, prefix)
    return None


def describe(report: StorageReport) -> Iterable[str]:
    """One line per orphan, for the command line."""
    for key in report.orphan_blobs:
        yield f"stored without a row: {key}"
    for file_id in report.orphan_rows:
        yield f"row without stored bytes: {file_id} ({blob_key(file_id)})"
