"""Sessions end on every process: two `wschats serve` sharing PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import os
import subprocess

import httpx

from tests.support.rooms import new_group_on
from tests.support.sockets import (
    another_token,
    connected,
    frames_until_closed,
    next_of_type,
    open_socket,
)
from wschats.devtools.servers import WSCHATS, ServerProcess, create_user


async def test_logout_on_one_process_ends_the_socket_on_the_other_before_the_next_event(
    two_servers: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    a, b = two_servers
    _, alice = await create_user(postgres_url, "alice")
    bob_id, bob = await create_user(postgres_url, "bob")
    carol_id, _ = await create_user(postgres_url, "carol")
    bob_other = await another_token(postgres_url, bob_id)
    async with (
        open_socket(b, bob) as ended,
        open_socket(a, bob) as ended_here,
        open_socket(b, bob_other) as kept,
    ):
        for ws in (ended, ended_here, kept):
            await connected(ws)
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as via_a:
            logout = await via_a.delete("/auth/token", headers={"Authorization": f"Bearer {bob}"})
        assert logout.status_code == 204
        room_id = await new_group_on(a, alice, bob_id, carol_id)  # right after the logout

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
    async with (
        open_socket(a, dave) as on_a,
        open_socket(b, dave) as on_b,
        open_socket(b, erin) as other,
    ):
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
        room_id = await new_group_on(a, erin, dave_id, frank_id)
        assert (await next_of_type(other, "ROOM_CREATED"))["roomId"] == room_id
