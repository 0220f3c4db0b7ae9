"""The events websocket over a real `wschats serve` process."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.support.sockets import connected
from wschats.devtools.servers import ServerProcess, create_user, server_env

QUEUE_SIZE = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("ws")
    process = ServerProcess(
        env=server_env(
            data,
            f"sqlite:///{data / 'wschats.db'}",
            {"WSC_EVENTS_QUEUE_SIZE": str(QUEUE_SIZE), "WSC_BASE_PATH": "/services/chats"},
        ),
        log_path=data / "server.log",
    )
    process.start()
    yield process
    process.stop()


class Person:
    def __init__(self, server: ServerProcess, user_id: uuid.UUID, token: str) -> None:
        self.server = server
        self.id = user_id
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"ZM_AUTH_TOKEN={self.token}"}

    def socket(self, path: str = "/events", **kwargs: Any) -> Any:
        return connect(self.server.ws_url + path, additional_headers=self.headers, **kwargs)

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=10) as client:
            return await client.request(method, path, json=body, headers=self.headers)


@pytest_asyncio.fixture(loop_scope="session")
async def people(server: ServerProcess) -> AsyncIterator[list[Person]]:
    url = server.env["WSC_DATABASE_URL"]
    yield [Person(server, *await create_user(url, f"p{i}")) for i in range(4)]


def small_buffer_socket(port: int) -> socket.socket:
    """A connected client socket with a tiny receive window: unread data backs up quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    return sock


async def next_event(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), wait)))


async def nothing_more(ws: ClientConnection, wait: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), wait)


async def test_refused_without_valid_credentials(server: ServerProcess) -> None:
    for headers in ({}, {"Cookie": "ZM_AUTH_TOKEN=nope"}, {"Authorization": "Bearer nope"}):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.ws_url + "/events", additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body or b"{}")["message"]


async def test_first_frame_ping_pong_and_base_path(people: list[Person]) -> None:
    alice = people[0]
    for path in ("/events", "/services/chats/events", "/events/"):
        async with alice.socket(path) as ws:
            first = await connected(ws)
            await ws.send('{"type":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
            await ws.send("not json")  # ignored, the socket stays open
            await ws.send('{"type":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
            async with alice.socket(path) as other:
                assert await connected(other) != first  # every socket has its own queue id


async def test_events_reach_actor_and_members_on_every_socket_not_others(
    people: list[Person],
) -> None:
    alice, bob, carol, outsider = people
    async with (
        alice.socket() as a,
        bob.socket() as b1,
        bob.socket() as b2,
        carol.socket() as c,
        outsider.socket() as o,
    ):
        for ws in (a, b1, b2, c, o):
            await connected(ws)
        created = await alice.call(
            "POST",
            "/rooms",
            {"type": "group", "name": "g", "membersIds": [str(bob.id), str(carol.id)]},
        )
        assert created.status_code == 201
        room_id = created.json()["id"]
        for ws in (a, b1, b2, c):
            event = await next_event(ws)
            assert event["type"] == "ROOM_CREATED"
            assert event["roomId"] == room_id
            assert event["sentDate"].endswith("Z")
        await nothing_more(o)

        assert (await alice.call("PUT", f"/rooms/{room_id}/mute")).status_code == 204
        assert (await next_event(a))["type"] == "ROOM_MUTED"  # to the caller only
        await nothing_more(b1, 0.3)

        updated = await alice.call("PUT", f"/rooms/{room_id}", {"name": "renamed"})
        assert updated.status_code == 200
        for ws in (a, b1, b2, c):
            event = await next_event(ws)
            assert (event["type"], event["name"]) == ("ROOM_UPDATED", "renamed")
        await nothing_more(o, 0.3)


async def test_a_stalled_client_does_not_delay_others(people: list[Person]) -> None:
    alice, bob, _, _ = people
    created = await alice.call(
        "POST",
        "/rooms",
        {"type": "group", "name": "g", "membersIds": [str(bob.id), str(people[2].id)]},
    )
    room_id = created.json()["id"]
    # The stalled socket reads nothing (and has a tiny receive window) while the fast one must
    # still get every event as it happens.
    async with (
        bob.socket(max_queue=1, sock=small_buffer_socket(alice.server.port)) as stalled,
        alice.socket() as fast,
    ):
        await connected(stalled)
        await connected(fast)
        received = 0
        total = 600

        async def read_fast() -> None:
            nonlocal received
            while received < total:
                event = await next_event(fast)
                if event["type"] == "ROOM_UPDATED":
                    received += 1

        reader = asyncio.create_task(read_fast())
        description = "x" * 256
        async with httpx.AsyncClient(base_url=alice.server.url, timeout=10) as client:
            for i in range(total):
                response = await client.put(
                    f"/rooms/{room_id}",
                    json={"name": f"n{i}", "description": f"{description[:-4]}{i:04d}"},
                    headers=alice.headers,
                )
                assert response.status_code == 200
        await asyncio.wait_for(reader, 30)
        assert received == total
