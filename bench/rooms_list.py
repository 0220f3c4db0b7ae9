"""Benchmark: GET /rooms?extraFields=members&extraFields=settings for a user in 100 rooms of 10.

Runs a real `wschats serve` process (one worker) on SQLite and on PostgreSQL and, in the same
run, the same-work floor (bench/floor_app.py: the listing's queries with the plain driver and
the same JSON written with orjson, no framework, no auth), and loads both with wrk. The two
servers take turns in rounds; the ratio is the median of the rounds' ratios (target >= 0.90).
Each round also reads the server process's CPU time (user + system, /proc) around its wrk run:
CPU per request depends far less than throughput on what else the machine runs.
Also counts the SQL statements one listing costs at 10 and at 100 rooms (they must be equal).

    .venv/bin/python bench/rooms_list.py [--seconds 5] [--rounds 5] [--connections 16]
        [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BIN, free_port, process
from bench.wrk import WrkResult, wrk
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.driver_rows import statement_observers
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.app import create_app
from wschats.config import Settings
from wschats.devtools.app import running_app
from wschats.ports import NewUser

QUERY = "/rooms?extraFields=members&extraFields=settings"


async def seed(database_url: str, rooms: int, members: int) -> tuple[str, list[str]]:
    """Users through the directory, rooms through the HTTP API (in-process app)."""
    upgrade(database_url)
    database = SqlDatabase(database_url)
    directory = DirectoryIdentity(database)
    tag = uuid.uuid4().hex[:8]
    ids = await directory.add_users(
        [NewUser(email=f"u{i}-{tag}@bench.io", name=f"User {i}") for i in range(members)]
    )
    token = await directory.issue_token(ids[0], 3600)
    await database.close()

    settings = Settings(database_url=database_url, data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {token}"}
    room_ids = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            for i in range(rooms):
                created = await client.post(
                    "/rooms",
                    headers=headers,
                    json={
                        "type": "group",
                        "name": f"room {i}",
                        "description": "benchmark room",
                        "membersIds": [str(u) for u in ids[1:]],
                    },
                )
                assert created.status_code == 201, created.text
                room_id = created.json()["id"]
                room_ids.append(room_id)
                if i % 2:
                    await client.put(f"/rooms/{room_id}/mute", headers=headers)
                if i % 3 == 0:
                    await client.put(f"/rooms/{room_id}/clear", headers=headers)
    return token, room_ids


async def statements_per_listing(database_url: str, token: str) -> int:
    """SQL statements executed by one listing, authentication included (through SQLAlchemy
    or on the driver itself)."""
    settings = Settings(database_url=database_url, data_dir=Path(tempfile.mkdtemp()))
    async with running_app(settings) as running:
        engines = running.adapters.database.sync_engines
        async with running.client() as client:
            headers = {"Authorization": f"Bearer {token}"}
            await client.get(QUERY, headers=headers)  # warm: the relay's first pass is done
            statements: list[str] = []

            def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                statements.append(statement)

            def record_driver(statement: str) -> None:
                statements.append(statement)

            counts = []
            for _ in range(3):
                statements.clear()
                for engine in engines:
                    event.listen(engine, "before_cursor_execute", record)
                statement_observers.append(record_driver)
                response = await client.get(QUERY, headers=headers)
                statement_observers.remove(record_driver)
                for engine in engines:
                    event.remove(engine, "before_cursor_execute", record)
                assert response.status_code == 200
                counts.append(len(statements))
    # Background work (the outbox relay, the startup storage sweep) only adds statements.
    return min(counts)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run: Callable[[], WrkResult]) -> tuple[WrkResult, float]:
    """A wrk run and the server's CPU milliseconds per request answered during it."""
    before = cpu_seconds(pid)
    result = run()
    return result, (cpu_seconds(pid) - before) * 1000 / max(1, result.requests)


def floor_ratio(label: str, database_url: str, token: str, args: argparse.Namespace) -> float:
    """wschats against the same-work floor (bench/floor_app.py), both with wrk, in turns."""
    port, floor_port = free_port(), free_port()
    base, floor = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
    env = {"WSC_DATABASE_URL": database_url, "WSC_DATA_DIR": tempfile.mkdtemp()}
    headers = {"Authorization": f"Bearer {token}"}
    floor_args = [
        str(BIN / "python"), "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
        "floor_app:app", "--port", str(floor_port), "--log-level", "warning",
        "--no-access-log", "--http", "httptools",
    ]  # fmt: skip
    floor_env = {"FLOOR_DATABASE_URL": database_url}
    with (
        process(
            [str(BIN / "wschats"), "serve", "--port", str(port)], env, base, "/health/live"
        ) as server,
        process(floor_args, floor_env, floor, "/live") as floor_server,
    ):
        ours_body = httpx.get(base + QUERY, headers=headers).content
        floor_body = httpx.get(floor + "/rooms", headers=headers).content
        assert ours_body == floor_body, "the floor must write the same JSON"
        print(f"[{label}] response body: {len(ours_body)} bytes, the same from both")
        ours: list[tuple[WrkResult, float]] = []
        theirs: list[tuple[WrkResult, float]] = []
        # Turns, so a change in the machine's speed (a shared VM's neighbours) touches both.
        for _ in range(args.rounds):
            ours.append(measured(server.pid, lambda: wrk(
                base + QUERY, seconds=args.seconds, connections=args.connections,
                headers=headers)))  # fmt: skip
            theirs.append(measured(floor_server.pid, lambda: wrk(
                floor + "/rooms", seconds=args.seconds, connections=args.connections,
                headers=headers)))  # fmt: skip
    for number, ((a, a_cpu), (b, b_cpu)) in enumerate(zip(ours, theirs, strict=True), 1):
        print(a.line(f"[{label}] round {number} wschats GET /rooms") + f"  cpu {a_cpu:.2f} ms/req")
        print(b.line(f"[{label}] round {number} floor") + f"  cpu {b_cpu:.2f} ms/req")
    # A round where either server answered errors (non-2xx or socket errors: a database
    # refusing connections on a shared machine, say) measures something else: left out.
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=True) if not a[0].errors + b[0].errors]
    if len(pairs) < len(ours):
        print(f"[{label}] {len(ours) - len(pairs)} round(s) with errors left out of the medians")
    if not pairs:
        return float("nan")
    ratios = sorted(a.rps / b.rps for (a, _), (b, _) in pairs)
    ratio = statistics.median(ratios)
    cpu_ratios = sorted(b_cpu / a_cpu for (_, a_cpu), (_, b_cpu) in pairs if a_cpu and b_cpu)
    print(
        f"[{label}] throughput wschats/floor: median of {len(pairs)} rounds {ratio:.2f} "
        f"(rounds {ratios[0]:.2f} to {ratios[-1]:.2f}) (target >= 0.90)"
    )
    if cpu_ratios:
        print(
            f"[{label}] CPU per request, floor/wschats: median {statistics.median(cpu_ratios):.2f}"
            f" (rounds {cpu_ratios[0]:.2f} to {cpu_ratios[-1]:.2f}); wschats "
            f"{statistics.median(a_cpu for (_, a_cpu), _ in pairs):.2f} ms, floor "
            f"{statistics.median(b_cpu for _, (_, b_cpu) in pairs):.2f} ms (medians)"
        )
    return ratio


async def run_backend(label: str, database_url: str, args: argparse.Namespace) -> float:
    small_token, _ = await seed(database_url, 10, 10)
    small_statements = await statements_per_listing(database_url, small_token)
    token, _ = await seed(database_url, args.rooms, 10)
    statements = await statements_per_listing(database_url, token)
    print(
        f"[{label}] SQL statements per listing: 10 rooms: {small_statements}, "
        f"{args.rooms} rooms: {statements}"
    )
    return floor_ratio(label, database_url, token, args)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="turns taken by the two servers")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin URL; a scratch database is created and dropped",
    )  # fmt: skip
    args = parser.parse_args()

    sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    await run_backend("sqlite", sqlite_url, args)

    import psycopg

    name = f"wsc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        await run_backend("postgres", args.pg_url.rsplit("/", 1)[0] + f"/{name}", args)
    finally:
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
