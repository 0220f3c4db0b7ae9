"""The events websocket of a real `wschats serve`, from the client's side: the first frame,
waiting for an event, reading until the server closes, and a second token (another session)
for the same user."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.devtools.servers import ServerProcess

WAIT = 15.0  # upper bound for anything expected to happen, not a speed requirement


def open_socket(server: ServerProcess, token: str, **headers: str) -> Any:
    """`async with open_socket(...) as ws`: the events socket of the holder of `token`."""
    return connect(
        server.ws_url + "/events",
        additional_headers={"Authorization": f"Bearer {token}", **headers},
    )


async def connected(ws: ClientConnection) -> str:
    """The first frame is `websocketConnected`; returns the socket's queue id."""
    first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert first["type"] == "websocketConnected"
    return str(uuid.UUID(first["queueId"]))


async def next_of_type(ws: ClientConnection, event_type: str, wait: float = WAIT) -> dict[str, Any]:
    """The next frame of `event_type`, skipping others (TimeoutError after `wait` s)."""
    async with asyncio.timeout(wait):
        while True:
            frame = dict(json.loads(await ws.recv()))
            if frame["type"] == event_type:
                return frame


async def frames_until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """The frames the socket still gets, and its close code, once the server closes it."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(WAIT):
            while True:
                frames.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None
    raise AssertionError("unreachable")


async def another_token(database_url: str, user_id: uuid.UUID, ttl: int = 3600) -> str:
    """A second token of `user_id`: a session of its own."""
    database = SqlDatabase(database_url)
    try:
        return await DirectoryIdentity(database).issue_token(user_id, ttl)
    finally:
        await database.close()
