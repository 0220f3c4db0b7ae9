"""The storage check on a live server: bytes whose row arrives during the grace period are an
upload in flight, not an orphan (services/storage.py)."""

from __future__ import annotations

import asyncio
import uuid

from tests.conftest import Users
from tests.files.support import Stored
from wschats.bootstrap import Adapters
from wschats.container import Container
from wschats.domain.model import FileMetadata, FileType
from wschats.domain.time import utc_now


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
    now = utc_now()
    async with adapters.database.unit_of_work(write=True) as uow:
        await uow.files.add(
            FileMetadata(
                id=in_flight,
                type=FileType.USER_AVATAR,
                name="me.png",
                size=9,
                mime_type="image/png",
                user_id=owner.id,
                room_id=None,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    report = await checking
    assert report.orphan_blobs == [f"files/{orphan}"]
    assert report.orphan_rows == []

    await container.storage.repair(report)
    assert await stored.file(orphan) is None
    assert await stored.file(in_flight) == b"in flight"
    assert (await container.storage.check()).clean
