"""Consistency of file rows and stored bytes: `wschats storage check [--repair]` and the sweep
every server runs at start-up.

An upload stores its bytes before it commits its row, and removes them if the commit fails, so
only a killed process leaves bytes without a row; a delete removes the row first, so a storage
failure afterwards leaves bytes without a row too. A row without bytes should never happen.

The check may run while servers are serving: bytes whose row is about to be committed look
orphaned for a moment. So every candidate found is checked again after a grace period longer
than an upload takes from its bytes being stored to its row being committed, and only what is
still orphaned then is reported (and, on repair, removed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
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


@dataclass
class StorageReport:
    orphan_blobs: list[str] = field(default_factory=list)  # keys of bytes without a row
    orphan_rows: list[UUID] = field(default_factory=list)  # ids of rows without bytes

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
    def __init__(self, database: Database, blobs: BlobStore) -> None:
        self._db = database
        self._blobs = blobs
        self._writes = Writes(database, blobs)
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
        # Rows first: bytes are stored before their row, so a file added during the scan
        # shows as bytes without a row (re-checked later), never as a row without bytes.
        async with self._db.unit_of_work() as uow:
            row_ids = set(await uow.files.all_ids())
        report = StorageReport()
        stored: set[UUID] = set()
        async for key in self._blobs.keys(FILES_PREFIX):
            file_id = _file_id(key, FILES_PREFIX)
            if file_id is not None and file_id in row_ids:
                stored.add(file_id)
            else:
                report.orphan_blobs.append(key)
        async for key in self._blobs.keys(PREVIEWS_PREFIX):
            file_id = _file_id(key, PREVIEWS_PREFIX)
            if file_id is None or file_id not in row_ids:
                report.orphan_blobs.append(key)
        report.orphan_rows = sorted(row_ids - stored)
        return report

    async def _confirmed(self, candidates: StorageReport) -> StorageReport:
        report = StorageReport()
        ids = {
            file_id for key in candidates.orphan_blobs if (file_id := _blob_owner(key)) is not None
        } | set(candidates.orphan_rows)
        async with self._db.unit_of_work() as uow:
            existing = {i for i in ids if await uow.files.get(i) is not None}
        for key in candidates.orphan_blobs:
            owner = _blob_owner(key)
            if owner is None or owner not in existing:
                report.orphan_blobs.append(key)
        for file_id in candidates.orphan_rows:
            if file_id in existing and await self._blobs.size(blob_key(file_id)) is None:
                report.orphan_rows.append(file_id)
        return report

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
