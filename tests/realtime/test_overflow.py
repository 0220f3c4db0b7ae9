"""A socket whose queue overflows is closed (1008) while others keep receiving.

Runs uvicorn in this process so a burst can be published in one go, faster than any socket
can be written to: the kernel's buffers would otherwise absorb megabytes before a real client
that stopped reading made the server's queue overflow.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wschats.adapters.db.migrate import upgrade
from wschats.app import create_app
from wschats.bootstrap import Adapters, build_adapters
from wschats.config import Settings
from wschats.devtools.servers import free_port
from wschats.domain.events import Delivery, RoomMuted
from wschats.domain.time import utc_now
from wschats.ports import NewUser


@pytest_asyncio.fixture(loop_scope="session")
async def running(tmp_path: Path) -> AsyncIterator[tuple[str, Adapters]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, events_queue_size=5)
    adapters = await build_adapters(settings)
    app = create_app(settings, adapters=adapters)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"ws://127.0.0.1:{port}/events", adapters
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        await adapters.close()


async def test_overflowing_socket_is_closed_and_others_are_not(
    running: tuple[str, Adapters],
) -> None:
    url, adapters = running
    assert adapters.directory is not None
    ids = await adapters.directory.add_users(
        [NewUser(email=f"{n}@example.com", name=n) for n in ("slow", "other")]
    )
    slow_token, other_token = [await adapters.directory.issue_token(i, 60) for i in ids]
    async with (
        connect(url, additional_headers={"Authorization": f"Bearer {slow_token}"}) as slow,
        connect(url, additional_headers={"Authorization": f"Bearer {other_token}"}) as other,
    ):
        for ws in (slow, other):
            assert json.loads(await ws.recv())["type"] == "websocketConnected"
        burst = [
            Delivery.to(RoomMuted(sent_date=utc_now(), room_id=uuid.uuid4()), [ids[0]])
            for _ in range(50)
        ]
        await adapters.events.publish(burst)
        received = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
                received += 1
        assert received <= 5
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # The other user's socket is untouched and still gets its events.
        await adapters.events.publish(
            [Delivery.to(RoomMuted(sent_date=utc_now(), room_id=uuid.uuid4()), [ids[1]])]
        )
        assert json.loads(await asyncio.wait_for(other.recv(), 10))["type"] == "ROOM_MUTED"
