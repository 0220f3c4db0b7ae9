"""The storage check on a live server: bytes whose row arrives during the grace period are an
upload in flight, not an orphan (services/storage.py); both sides read a page at a time; the
start-up sweep and its setting."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import pytest

from tests.conftest import Users
from tests.files.support import Stored
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.container import Container
from wschats.devtools.app import running_app
from wschats.domain.model import FileMetadata, FileType
from wschats.domain.time import utc_now
from wschats.services.storage import StorageCheck, StorageReport, sweep_grace_seconds


async def test_bytes_whose_row_is_committed_during_the_grace_are_kept(
    container: Container, adapters: Adapters, users: Users, stored: Stored
) -> None:
    owner = await users.new()
    in_flight, orphan = uuid.uuid4(), uuid.uuid4()
    await stored.write(f"files/{in_flight}", b"in flight")
    await stored.write(f"files/{orphan}", b"orphan")

    before = await container.storage.check()
    assert sorted(before.orphan_blobs) == sorted([f"files/{in_flight}", f"files/{orphan}"])

    checking = asyncio.create_task(container.storage.check(grace_seconds=1.0))
    await asyncio.sleep(0.2)  # the scan has seen both without a row
    await _add_rows(adapters, owner.id, [in_flight], FileType.USER_AVATAR)
    report = await checking
    assert report.orphan_blobs == [f"files/{orphan}"]
    assert report.orphan_rows == []

    await container.storage.repair(report)
    assert await stored.file(orphan) is None
    assert await stored.file(in_flight) == b"in flight"
    assert (await container.storage.check()).clean


async def _add_rows(
    adapters: Adapters, owner: UUID, ids: list[UUID], kind: FileType = FileType.ATTACHMENT
) -> None:
    """File rows for `ids`, committed (their bytes, if any, are the test's business)."""
    now = utc_now()
    async with adapters.database.unit_of_work(write=True) as uow:
        for file_id in ids:
            await uow.files.add(
                FileMetadata(
                    id=file_id,
                    type=kind,
                    name="a.txt",
                    size=1,
                    mime_type="text/plain",
                    user_id=owner,
                    room_id=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        await uow.commit()


async def test_file_ids_in_keyset_pages_and_which_of_some_exist(
    adapters: Adapters, users: Users
) -> None:
    owner = await users.new()
    ids = sorted(uuid.uuid4() for _ in range(7))
    await _add_rows(adapters, owner.id, ids)

    async with adapters.database.unit_of_work() as uow:
        assert await uow.files.ids_after(None, 3) == ids[:3]
        assert await uow.files.ids_after(ids[2], 3) == ids[3:6]
        assert await uow.files.ids_after(ids[5], 3) == ids[6:]
        assert await uow.files.ids_after(ids[6], 3) == []
        assert await uow.files.ids_after(None, 100) == ids
        absent = uuid.uuid4()
        assert await uow.files.existing_ids([ids[4], absent, ids[0]]) == {ids[0], ids[4]}
        assert await uow.files.existing_ids([absent]) == set()
        assert await uow.files.existing_ids([]) == set()


async def test_orphans_on_both_sides_are_found_across_pages(
    adapters: Adapters, users: Users, stored: Stored
) -> None:
    owner = await users.new()
    ids = sorted(uuid.uuid4() for _ in range(10))
    without_bytes = [ids[1], ids[4], ids[7], ids[9]]
    with_bytes = [file_id for file_id in ids if file_id not in without_bytes]
    await _add_rows(adapters, owner.id, ids)
    for file_id in with_bytes:
        await stored.write(f"files/{file_id}", b"kept")
    await stored.write(f"previews/{with_bytes[0]}/thumb-1", b"kept preview")
    stray = sorted([*(f"files/{uuid.uuid4()}" for _ in range(5)), "files/not-an-id"])
    stray_previews = sorted(f"previews/{uuid.uuid4()}/thumb-1" for _ in range(4))
    for key in (*stray, *stray_previews):
        await stored.write(key, b"stray")

    paged = StorageCheck(adapters.database, adapters.blobs, page_size=3)
    report = await paged.check()
    assert report.orphan_blobs == [*stray, *stray_previews]
    assert report.orphan_rows == without_bytes
    assert not report.incomplete
    assert await StorageCheck(adapters.database, adapters.blobs).check() == report

    await paged.repair(report)
    assert (await paged.check()).clean
    async with adapters.database.unit_of_work() as uow:
        assert await uow.files.existing_ids(ids) == set(with_bytes)
    assert await stored.keys() == sorted(
        [*(f"files/{file_id}" for file_id in with_bytes), f"previews/{with_bytes[0]}/thumb-1"]
    )


class _Paused(StorageCheck):
    """Stops between the scan and the confirmation until told to go on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scanned, self.go_on = asyncio.Event(), asyncio.Event()

    async def _confirmed(self, candidates: StorageReport) -> StorageReport:
        self.scanned.set()
        await self.go_on.wait()
        return await super()._confirmed(candidates)


async def test_candidates_are_confirmed_again_in_pages(
    adapters: Adapters, users: Users, stored: Stored
) -> None:
    owner = await users.new()
    rows = sorted(uuid.uuid4() for _ in range(5))
    await _add_rows(adapters, owner.id, rows)  # none has bytes
    blobs = sorted(uuid.uuid4() for _ in range(5))
    for file_id in blobs:
        await stored.write(f"files/{file_id}", b"bytes")

    check = _Paused(adapters.database, adapters.blobs, page_size=2)
    checking = asyncio.create_task(check.check())
    async with asyncio.timeout(60):
        await check.scanned.wait()
    # Meanwhile: two uploads commit their rows, a row is deleted, another gets its bytes.
    await _add_rows(adapters, owner.id, [blobs[0], blobs[3]])
    async with adapters.database.unit_of_work(write=True) as uow:
        await uow.files.delete(rows[2])
        await uow.commit()
    await stored.write(f"files/{rows[4]}", b"late")
    check.go_on.set()
    report = await checking

    assert report.orphan_blobs == [f"files/{blobs[i]}" for i in (1, 2, 4)]
    assert report.orphan_rows == [rows[0], rows[1], rows[3]]


async def test_a_check_keeps_at_most_max_candidates_and_the_rest_wait(
    adapters: Adapters, users: Users, stored: Stored
) -> None:
    owner = await users.new()
    rows = sorted(uuid.uuid4() for _ in range(3))
    await _add_rows(adapters, owner.id, rows)  # none has bytes
    strays = sorted(f"files/{uuid.uuid4()}" for _ in range(4))
    for key in strays:
        await stored.write(key, b"stray")
    check = StorageCheck(adapters.database, adapters.blobs, page_size=2, max_candidates=5)

    first = await check.check()
    assert (first.orphan_rows, first.orphan_blobs, first.incomplete) == (rows, strays[:2], True)
    await check.repair(first)
    second = await check.check()
    assert (second.orphan_rows, second.orphan_blobs, second.incomplete) == ([], strays[2:], False)
    await check.repair(second)
    assert (await check.check()).clean


def test_the_start_up_sweep_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WSC_STORAGE_SWEEP_ON_START", "false")
    assert Settings().storage_sweep_on_start is False
    monkeypatch.delenv("WSC_STORAGE_SWEEP_ON_START")
    assert Settings().storage_sweep_on_start is True


def _sweeps_since(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """The start-up sweeps started since `before` was taken (not another app's)."""
    return [task for task in asyncio.all_tasks() - before if task.get_name() == "storage-sweep"]


async def test_a_server_started_without_the_sweep_leaves_orphans_alone(
    settings: Settings, stored: Stored
) -> None:
    orphan = f"files/{uuid.uuid4()}"
    await stored.write(orphan, b"orphan")
    quick = settings.model_copy(update={"database_timeout_seconds": 0.25})
    grace = sweep_grace_seconds(quick.database_timeout_seconds)

    before = asyncio.all_tasks()
    async with running_app(quick.model_copy(update={"storage_sweep_on_start": False})):
        assert _sweeps_since(before) == []
        await asyncio.sleep(grace + 0.5)  # longer than a sweep would wait
        assert await stored.read(orphan) == b"orphan"

    # The control: with the sweep, the same start removes it once the grace has passed.
    before = asyncio.all_tasks()
    async with running_app(quick):
        [sweep] = _sweeps_since(before)
        async with asyncio.timeout(60):
            await sweep
        assert await stored.read(orphan) is None
