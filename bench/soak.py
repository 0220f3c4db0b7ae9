"""Soak: 200 concurrent clients (REST + websockets) against 2 `wschats serve` processes on
PostgreSQL + RabbitMQ for 10 minutes. Every 30 s it prints the window's request count, errors,
p99 latency, events received and each server's RSS; at the end, RSS against minute 2
(target: within 10 %) and the error total (target: 0).

    .venv/bin/python bench/soak.py [--clients 200] [--minutes 10] [--think 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.events import AMQP, drop_database, postgres_database, start
from wschats.devtools.servers import ServerProcess, create_user, server_env


class Window:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.events = 0
        self.statuses: dict[str, int] = {}

    def error(self, kind: str) -> None:
        self.errors += 1
        self.statuses[kind] = self.statuses.get(kind, 0) + 1


async def client_loop(
    index: int,
    user: tuple[uuid.UUID, str],
    peers: list[uuid.UUID],
    server: ServerProcess,
    http: httpx.AsyncClient,
    state: dict[str, Window],
    stop: asyncio.Event,
    think: float,
) -> None:
    rng = random.Random(index)
    headers = {"Authorization": f"Bearer {user[1]}"}
    rooms: list[str] = []

    async def listen() -> None:
        try:
            async with connect(server.ws_url + "/events", additional_headers=headers) as ws:
                async for frame in ws:
                    if json.loads(frame).get("type") != "websocketConnected":
                        state["now"].events += 1
                    if stop.is_set():
                        return
        except Exception:
            if not stop.is_set():
                state["now"].error("websocket dropped")

    listener = asyncio.create_task(listen())
    while not stop.is_set():
        action = rng.random()
        started = time.perf_counter()
        try:
            if not rooms or action < 0.05:
                members = [str(p) for p in rng.sample(peers, 3) if p != user[0]][:2]
                response = await http.post(
                    server.url + "/rooms",
                    headers=headers,
                    json={"type": "group", "name": f"soak {index}", "membersIds": members},
                )
                if response.status_code == 201:
                    rooms.append(response.json()["id"])
            elif action < 0.5:
                response = await http.get(
                    server.url + "/rooms?extraFields=members&extraFields=settings",
                    headers=headers,
                )
            elif action < 0.75:
                response = await http.get(
                    server.url + f"/rooms/{rng.choice(rooms)}", headers=headers
                )
            elif action < 0.9:
                verb = "PUT" if rng.random() < 0.5 else "DELETE"
                response = await http.request(
                    verb, server.url + f"/rooms/{rng.choice(rooms)}/mute", headers=headers
                )
            else:
                response = await http.put(
                    server.url + f"/rooms/{rng.choice(rooms)}",
                    headers=headers,
                    json={"name": f"soak {index} {rng.randint(0, 999)}"},
                )
            window = state["now"]
            window.latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                window.error(str(response.status_code))
        except httpx.HTTPError as exc:
            state["now"].error(type(exc).__name__)
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    listener.cancel()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    # Seconds between a client's requests: chat clients are mostly idle, and 200 of them at
    # 3 s offer what 2 processes on 2 vCPUs can serve (a faster pace only measures queueing).
    parser.add_argument("--think", type=float, default=3.0)
    parser.add_argument("--sample-seconds", type=float, default=30)
    args = parser.parse_args()
    name, pg = postgres_database()
    tmp = Path(tempfile.mkdtemp())
    try:
        with ExitStack() as stack:
            people = [await create_user(pg, f"s{i}", ttl=7200) for i in range(args.clients)]
            servers = start(
                [
                    ServerProcess(
                        env=server_env(tmp / f"s{i}", pg, {"WSC_EVENTS_URL": AMQP}),
                        log_path=tmp / f"s{i}.log",
                    )
                    for i in range(2)
                ],
                stack,
            )
            processes = [psutil.Process(s.proc.pid) for s in servers if s.proc is not None]
            state = {"now": Window()}
            stop = asyncio.Event()
            peers = [p[0] for p in people]
            limits = httpx.Limits(
                max_connections=args.clients, max_keepalive_connections=args.clients
            )
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                tasks = [
                    asyncio.create_task(
                        client_loop(i, p, peers, servers[i % 2], http, state, stop, args.think)
                    )
                    for i, p in enumerate(people)
                ]
                began = time.monotonic()
                samples: list[tuple[float, list[float]]] = []
                total_errors = 0
                all_statuses: dict[str, int] = {}
                total_requests = 0
                columns = ("minute", "requests", "errors", "p99 ms", "events")
                print(" ".join(f"{c:>8}" for c in columns) + "  RSS MiB")
                while time.monotonic() - began < args.minutes * 60:
                    await asyncio.sleep(args.sample_seconds)
                    window, state["now"] = state["now"], Window()
                    rss = [p.memory_info().rss / 2**20 for p in processes]
                    minute = (time.monotonic() - began) / 60
                    samples.append((minute, rss))
                    total_errors += window.errors
                    for kind, n in window.statuses.items():
                        all_statuses[kind] = all_statuses.get(kind, 0) + n
                    total_requests += len(window.latencies)
                    print(
                        f"{minute:8.1f} {len(window.latencies):8d} {window.errors:8d} "
                        f"{p99(window.latencies):8.1f} {window.events:8d}  "
                        + " ".join(f"{r:7.1f}" for r in rss),
                        flush=True,
                    )
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
            reference = min(samples, key=lambda s: abs(s[0] - 2.0))
            final = samples[-1]
            for index in range(len(processes)):
                growth = (final[1][index] - reference[1][index]) / reference[1][index] * 100
                verdict = "OK" if abs(growth) <= 10 else "MISSED"
                print(
                    f"server {index}: RSS at minute {reference[0]:.1f} "
                    f"{reference[1][index]:.1f} MiB,"
                    f" at the end {final[1][index]:.1f} MiB ({growth:+.1f} %, target within 10 %)"
                    f" {verdict}"
                )
            print(f"requests {total_requests}, errors {total_errors} (target 0) {all_statuses}")
    finally:
        drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
