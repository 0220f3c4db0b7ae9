"""Sessions end on every process: two `wschats serve` sharing PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.servers import WSCHATS, ServerProcess, create_user, server_env
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.identity.directory import DirectoryIdentity

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
WAIT = 15.0


@pytest.fixture(scope="module")
def two_servers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    data = tmp_path_factory.mktemp("sessions-two")
    servers = tuple(
        ServerProcess(
            env=server_env(data / name, postgres_url, {"WSC_EVENTS_URL": AMQP}),
            log_path=data / f"{name}.log",
        )
        for name in ("a", "b")
    )
    for server in servers:
        server.start()
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


def socket(server: ServerProcess, token: str) -> Any:
    return connect(
        server.ws_url + "/events", additional_headers={"Authorization": f"Bearer {token}"}
    )


async def connected(ws: ClientConnection) -> None:
    first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert first["type"] == "websocketConnected"


async def frames_until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(WAIT):
            while True:
                frames.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None
    raise AssertionError("unreachable")


async def next_of_type(ws: ClientConnection, event_type: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            frame = dict(json.loads(await ws.recv()))
            if frame["type"] == event_type:
                return frame


async def another_token(database_url: str, user_id: uuid.UUID) -> str:
    database = SqlDatabase(database_url)
    try:
        return await DirectoryIdentity(database).issue_token(user_id, 3600)
    finally:
        await database.close()


async def create_group(server: ServerProcess, token: str, *members: uuid.UUID) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        created = await client.post(
            "/rooms",
            json={"type": "group", "name": "g", "membersIds": [str(m) for m in members]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_logout_on_one_process_ends_the_socket_on_the_other_before_the_next_event(
    two_servers: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    a, b = two_servers
    _, alice = await create_user(postgres_url, "alice")
    bob_id, bob = await create_user(postgres_url, "bob")
    carol_id, _ = await create_user(postgres_url, "carol")
    bob_other = await another_token(postgres_url, bob_id)
    async with socket(b, bob) as ended, socket(a, bob) as ended_here, socket(b, bob_other) as kept:
        for ws in (ended, ended_here, kept):
            await connected(ws)
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as via_a:
            logout = await via_a.delete("/auth/token", headers={"Authorization": f"Bearer {bob}"})
        assert logout.status_code == 204
        room_id = await create_group(a, alice, bob_id, carol_id)  # right after the logout

        for ws in (ended, ended_here):
            frames, code = await frames_until_closed(ws)
            assert code == 1008
            assert frames == []  # created after the logout: never delivered to its sockets
        assert (await next_of_type(kept, "ROOM_CREATED"))["roomId"] == room_id


async def test_cli_revoke_user_ends_sockets_on_every_process(
    two_servers: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    a, b = two_servers
    dave_id, dave = await create_user(postgres_url, "dave")
    _, erin = await create_user(postgres_url, "erin")
    frank_id, _ = await create_user(postgres_url, "frank")
    async with socket(a, dave) as on_a, socket(b, dave) as on_b, socket(b, erin) as other:
        for ws in (on_a, on_b, other):
            await connected(ws)
        # No broker in the command's environment: the serving processes find the end themselves.
        env = {k: v for k, v in os.environ.items() if k != "WSC_EVENTS_URL"}
        result = await asyncio.to_thread(
            subprocess.run,
            [WSCHATS, "token", "revoke", "--user", "--id", str(dave_id)],
            env={**env, "WSC_DATA_DIR": a.env["WSC_DATA_DIR"], "WSC_DATABASE_URL": postgres_url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        for ws in (on_a, on_b):
            assert (await frames_until_closed(ws))[1] == 1008
        room_id = await create_group(a, erin, dave_id, frank_id)
        assert (await next_of_type(other, "ROOM_CREATED"))["roomId"] == room_id
