"""Two `wschats serve` processes sharing PostgreSQL and RabbitMQ behave as one service."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.sockets import next_of_type
from wschats.devtools.servers import ServerProcess, create_user


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


async def health(server: ServerProcess) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        return dict((await client.get(server.url + "/health")).json())


async def test_events_cross_processes_and_survive_a_broker_restart(
    two_servers: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    a, b = two_servers
    _, alice = await create_user(postgres_url, "alice")
    bob_id, bob = await create_user(postgres_url, "bob")
    carol_id, _ = await create_user(postgres_url, "carol")
    as_alice = {"Authorization": f"Bearer {alice}"}
    async with (
        connect(b.ws_url + "/events", additional_headers={"Authorization": f"Bearer {bob}"}) as ws,
        httpx.AsyncClient(base_url=a.url, headers=as_alice, timeout=10) as via_a,
    ):
        assert json.loads(await ws.recv())["type"] == "websocketConnected"
        created = await via_a.post(
            "/rooms",
            json={"type": "group", "name": "g", "membersIds": [str(bob_id), str(carol_id)]},
        )
        assert created.status_code == 201
        room_id = created.json()["id"]
        # Made through process A, delivered by process B to its socket.
        assert (await next_of_type(ws, "ROOM_CREATED", wait=30))["roomId"] == room_id

        rabbitmqctl("stop_app")
        try:
            renamed = await via_a.put(f"/rooms/{room_id}", json={"name": "during outage"})
            assert renamed.status_code == 200  # requests keep working without the broker
            status = await health(a)
            assert {"name": "event_dispatcher", "isHealthy": False} in status["dependencies"]
            assert status["status"] == "warn"
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")

        # Both processes reconnect by themselves, and delivery resumes to the same socket.
        for _ in range(120):
            if (await health(a))["status"] == "ok" and (await health(b))["status"] == "ok":
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the processes did not reconnect to the broker")
        for attempt in range(20):
            await via_a.put(f"/rooms/{room_id}", json={"name": f"after {attempt}"})
            try:
                event = await next_of_type(ws, "ROOM_UPDATED", wait=3)
            except TimeoutError:
                continue
            if event["name"].startswith("after"):
                break
        else:
            raise AssertionError("events did not resume after the broker came back")
        assert event["roomId"] == room_id


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import psycopg

    name = f"wsc_mp_{uuid.uuid4().hex[:10]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
