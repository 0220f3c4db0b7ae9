"""Attachment pages: every attachment once, newest first, at any depth and page size, also
when several share a timestamp (the cursor's id breaks the tie)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.conftest import Api, Users
from wschats.bootstrap import Adapters
from wschats.domain.model import FileMetadata, FileType
from wschats.domain.time import utc_now

ATTACHMENTS = 61
SAME_TIME = 4  # attachments at each timestamp


async def test_pages_give_every_attachment_once_in_order(
    api: Api, users: Users, adapters: Adapters
) -> None:
    owner, a, b = await users.many(3)
    room = await api.post(
        "/rooms",
        owner,
        json_body={"type": "group", "name": "files", "membersIds": [str(a.id), str(b.id)]},
    )
    room_id = uuid.UUID(room.json()["id"])
    start = utc_now()
    files = [
        FileMetadata(
            id=uuid.uuid4(),
            type=FileType.ATTACHMENT,
            name=f"file {n}.txt",
            size=1,
            mime_type="text/plain",
            user_id=owner.id,
            room_id=room_id,
            created_at=start + timedelta(milliseconds=n // SAME_TIME),
            updated_at=start,
        )
        for n in range(ATTACHMENTS)
    ]
    async with adapters.database.unit_of_work(write=True) as uow:
        for file in files:
            await uow.files.add(file)
        await uow.commit()
    newest_first = [
        str(f.id) for f in sorted(files, key=lambda f: (f.created_at, f.id), reverse=True)
    ]

    for size in (1, 2, 3, SAME_TIME, 5, 7, ATTACHMENTS, ATTACHMENTS + 1):
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(ATTACHMENTS + 1):  # bounded: one page more than items
            params = {"itemsNumber": size} | ({"filter": cursor} if cursor else {})
            response = await api.get(f"/rooms/{room_id}/attachments", owner, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(item["id"] for item in page["attachments"])
            cursor = page.get("filter")
            if cursor is None:
                break
        assert seen == newest_first, size
