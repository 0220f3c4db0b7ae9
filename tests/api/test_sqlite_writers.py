"""Many writers at once on the embedded SQLite database: every one succeeds.

SQLite takes one writer at a time. Left to its busy handler, writers beyond the first polled
for the lock and gave up after the busy timeout with a 500 ("database is locked"); a process's
writers now queue for their turn instead. The busy timeout here is far shorter than the queue
of 64 writers takes to drain, so a writer that waited on SQLite's lock would fail.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from tests.conftest import Api, Users
from tests.files.support import upload_attachment
from wschats.adapters.db.migrate import upgrade
from wschats.config import Settings
from wschats.devtools.app import running_app

WRITERS = 64


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_app(tmp_path: Path) -> AsyncIterator[tuple[Api, Users]]:
    url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        database_timeout_seconds=0.05,
        max_group_members=WRITERS + 3,
    )
    async with running_app(settings) as running, running.client() as client:
        yield Api(client), Users(running.adapters)


async def test_64_concurrent_writers_all_succeed(sqlite_app: tuple[Api, Users]) -> None:
    api, users = sqlite_app
    owner, *people = await users.many(WRITERS + 3)
    # people[0] is in every room; people[1 : WRITERS + 1] are the writers.
    group = await api.post(
        "/rooms",
        owner,
        json_body={
            "type": "group",
            "name": "shared",
            "membersIds": [str(people[0].id), str(people[WRITERS + 1].id)],
        },
    )
    assert group.status_code == 201, group.text
    room_id = group.json()["id"]

    async def create(index: int) -> httpx.Response:
        return await api.post(
            "/rooms",
            people[index],
            json_body={
                "type": "group",
                "name": f"room {index}",
                "membersIds": [str(owner.id), str(people[0].id)],
            },
        )

    async def add_member(index: int) -> httpx.Response:
        return await api.post(
            f"/rooms/{room_id}/members",
            owner,
            json_body={"userId": str(people[index].id), "owner": False, "historyCleared": False},
        )

    async def upload(index: int) -> httpx.Response:
        return await upload_attachment(api, owner, room_id, f"file {index}".encode())

    for write in (create, add_member, upload):
        responses = await asyncio.gather(*(write(i) for i in range(1, WRITERS + 1)))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: WRITERS}, (write.__name__, statuses, responses[0].text)

    # Every write is there to read back.
    members = (await api.get(f"/rooms/{room_id}/members", owner)).json()
    assert len(members) == WRITERS + 3
    listed = (await api.get("/rooms", owner)).json()
    assert len(listed) == WRITERS + 1
    page = (await api.get(f"/rooms/{room_id}/attachments?itemsNumber=100", owner)).json()
    assert len(page["attachments"]) == WRITERS
