"""Benchmark: event latency to 100 websockets, and REST throughput of 2 processes vs 1.

1. 100 members of one room connected by websocket; N mutations (room renames) through HTTP;
   latency from each HTTP response to the event at every socket (p50/p99). In-process events
   (one server, SQLite) and RabbitMQ with 2 server processes on PostgreSQL (mutations through
   one, half the sockets on the other).
2. A mixed REST workload (room reads, listings, mute/unmute) against 1 process and against 2
   processes (PostgreSQL + RabbitMQ), same client load, throughput ratio.

    .venv/bin/python bench/events.py [--mutations 1000] [--members 100] [--rest-requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CLIENT_LIMITS
from wschats.devtools.servers import ServerProcess, create_user, server_env

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def make_people(database_url: str, count: int) -> list[tuple[uuid.UUID, str]]:
    return [await create_user(database_url, f"m{i}") for i in range(count)]


async def latency_run(
    label: str, servers: list[ServerProcess], database_url: str, args: argparse.Namespace
) -> None:
    people = await make_people(database_url, args.members)
    _, owner_token = people[0]
    headers = {"Authorization": f"Bearer {owner_token}"}
    async with httpx.AsyncClient(
        base_url=servers[0].url, headers=headers, timeout=30, limits=CLIENT_LIMITS
    ) as http:
        created = await http.post(
            "/rooms",
            json={
                "type": "group",
                "name": "bench",
                "membersIds": [str(p[0]) for p in people[1:]],
            },
        )
        assert created.status_code == 201, created.text
        room_id = created.json()["id"]

        arrivals: dict[str, list[float]] = {}
        sockets: list[ClientConnection] = []
        for index, (_, token) in enumerate(people):
            server = servers[index % len(servers)]
            ws = await connect(
                server.ws_url + "/events",
                additional_headers={"Authorization": f"Bearer {token}"},
                max_queue=None,
            )
            await ws.recv()
            sockets.append(ws)

        async def listen(ws: ClientConnection) -> None:
            async for frame in ws:
                event = json.loads(frame)
                if event.get("type") == "ROOM_UPDATED":
                    arrivals.setdefault(event["name"], []).append(time.perf_counter())

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        responses: dict[str, float] = {}
        began = time.perf_counter()
        for i in range(args.mutations):
            name = f"n{i}"
            response = await http.put(f"/rooms/{room_id}", json={"name": name})
            assert response.status_code == 200
            responses[name] = time.perf_counter()
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if all(len(arrivals.get(n, [])) == len(sockets) for n in responses):
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - began
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
    latencies = [t - responses[n] for n in responses for t in arrivals.get(n, [])]
    expected = len(responses) * len(sockets)
    print(
        f"[{label}] {len(sockets)} sockets, {len(responses)} mutations in {elapsed:.1f}s: "
        f"delivered {len(latencies)}/{expected}; latency response->event "
        f"p50 {pct(latencies, 0.5):.2f} ms, p99 {pct(latencies, 0.99):.2f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.2f} ms"
    )


async def rest_run(
    label: str, servers: list[ServerProcess], database_url: str, args: argparse.Namespace
) -> float:
    people = await make_people(database_url, 20)
    rooms: list[tuple[str, str]] = []
    for index, (_, token) in enumerate(people):
        others = [str(p[0]) for p in people if p[1] != token][:4]
        async with httpx.AsyncClient(
            base_url=servers[0].url, timeout=30, limits=CLIENT_LIMITS
        ) as http:
            created = await http.post(
                "/rooms",
                headers={"Authorization": f"Bearer {token}"},
                json={"type": "group", "name": f"r{index}", "membersIds": others},
            )
            rooms.append((token, created.json()["id"]))
    plan = itertools.cycle(["list", "get", "members", "mute", "unmute", "get"])
    targets = itertools.cycle(servers)
    latencies: list[float] = []
    errors = 0
    remaining = args.rest_requests

    async def worker(clients: dict[str, httpx.AsyncClient], offset: int) -> None:
        nonlocal remaining, errors
        step = offset
        while remaining > 0:
            remaining -= 1
            token, room_id = rooms[step % len(rooms)]
            step += 1
            kind = next(plan)
            server = next(targets)
            client = clients[server.url]
            headers = {"Authorization": f"Bearer {token}"}
            start = time.perf_counter()
            if kind == "list":
                response = await client.get("/rooms?extraFields=members", headers=headers)
            elif kind == "get":
                response = await client.get(f"/rooms/{room_id}", headers=headers)
            elif kind == "members":
                response = await client.get(f"/rooms/{room_id}/members", headers=headers)
            elif kind == "mute":
                response = await client.put(f"/rooms/{room_id}/mute", headers=headers)
            else:
                response = await client.delete(f"/rooms/{room_id}/mute", headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code >= 400:
                errors += 1

    clients = {
        s.url: httpx.AsyncClient(base_url=s.url, timeout=30, limits=CLIENT_LIMITS) for s in servers
    }
    try:
        machine_before, servers_before = machine_cpu(), servers_cpu(servers)
        began = time.perf_counter()
        await asyncio.gather(*(worker(clients, i * 3) for i in range(args.concurrency)))
        elapsed = time.perf_counter() - began
        machine_after, servers_after = machine_cpu(), servers_cpu(servers)
    finally:
        for client in clients.values():
            await client.aclose()
    rps = float(args.rest_requests) / elapsed
    busy = machine_after[0] - machine_before[0]
    total = machine_after[1] - machine_before[1]
    print(
        f"[{label}] mixed REST: {rps:.1f} req/s, p50 {pct(latencies, 0.5):.2f} ms, "
        f"p99 {pct(latencies, 0.99):.2f} ms, errors {errors}; machine CPU busy "
        f"{busy / total * 100:.0f}% of {os.cpu_count()} CPUs, wschats processes "
        f"{(servers_after - servers_before) / elapsed * 100:.0f}% of one CPU"
    )
    return rps


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


def servers_cpu(servers: list[ServerProcess]) -> float:
    """CPU seconds used so far by the wschats processes (and their threads)."""
    seconds = 0.0
    for server in servers:
        assert server.proc is not None
        stat = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        seconds += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def postgres_database() -> tuple[str, str]:
    import psycopg

    name = f"wsc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(servers: list[ServerProcess], stack: ExitStack) -> list[ServerProcess]:
    for server in servers:
        server.start()
        stack.callback(server.stop)
    return servers


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutations", type=int, default=1000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--rest-requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())

    with ExitStack() as stack:
        url = f"sqlite:///{tmp / 'inprocess.db'}"
        await create_user(url, "init")  # creates the schema
        env = server_env(tmp / "inproc", url, {"WSC_MAX_GROUP_MEMBERS": "128"})
        servers = start([ServerProcess(env=env, log_path=tmp / "inproc.log")], stack)
        await latency_run("in-process, 1 process", servers, url, args)

    name, pg = postgres_database()
    try:
        with ExitStack() as stack:
            await create_user(pg, "init")
            servers = start(
                [
                    ServerProcess(
                        env=server_env(tmp / f"rabbit{i}", pg, {"WSC_EVENTS_URL": AMQP}),
                        log_path=tmp / f"rabbit{i}.log",
                    )
                    for i in range(2)
                ],
                stack,
            )
            await latency_run("RabbitMQ, 2 processes", servers, pg, args)
            two = await rest_run("2 processes", servers, pg, args)
            one = await rest_run("1 process", servers[:1], pg, args)
            print(
                f"mixed REST throughput, 2 processes / 1 process: {two / one:.2f} (target >= 1.7)"
            )
    finally:
        drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
