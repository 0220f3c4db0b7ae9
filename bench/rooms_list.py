"""Benchmark: GET /rooms?extraFields=members&extraFields=settings for a user in 100 rooms of 10.

Runs a real `wschats serve` process (one worker) on SQLite and on PostgreSQL, and in the same
run a bare FastAPI endpoint that returns a JSON body of the same size; prints requests/s,
p50/p99 and the ratio. The two servers take turns in rounds, and the ratio is the median of
the rounds' ratios. Also counts the SQL statements one listing costs at 10 and at 100 rooms
(they must be equal).

    .venv/bin/python bench/rooms_list.py [--requests 2000] [--rounds 5] [--concurrency 8]
        [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BIN, LoadResult, free_port, load, process
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.app import create_app
from wschats.config import Settings
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
    """SQL statements executed by one listing, authentication included."""
    settings = Settings(database_url=database_url, data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engines = app.state.container.database.sync_engines
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            headers = {"Authorization": f"Bearer {token}"}
            await client.get(QUERY, headers=headers)  # warm: the relay's first pass is done
            statements: list[str] = []

            def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                statements.append(statement)

            counts = []
            for _ in range(3):
                statements.clear()
                for engine in engines:
                    event.listen(engine, "before_cursor_execute", record)
                response = await client.get(QUERY, headers=headers)
                for engine in engines:
                    event.remove(engine, "before_cursor_execute", record)
                assert response.status_code == 200
                counts.append(len(statements))
    # Background work (the outbox relay, the startup storage sweep) only adds statements.
    return min(counts)


async def run_backend(label: str, database_url: str, args: argparse.Namespace) -> float:
    small_token, _ = await seed(database_url, 10, 10)
    small_statements = await statements_per_listing(database_url, small_token)
    token, _ = await seed(database_url, args.rooms, 10)
    statements = await statements_per_listing(database_url, token)
    print(
        f"[{label}] SQL statements per listing: 10 rooms: {small_statements}, "
        f"{args.rooms} rooms: {statements}"
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"WSC_DATABASE_URL": database_url, "WSC_DATA_DIR": tempfile.mkdtemp()}
    headers = {"Authorization": f"Bearer {token}"}
    bare_port = free_port()
    bare = f"http://127.0.0.1:{bare_port}"
    uvicorn_args = [
        str(BIN / "python"), "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
        "bare_app:app", "--port", str(bare_port), "--log-level", "warning",
    ]  # fmt: skip
    body_file = Path(tempfile.mkdtemp()) / "body.json"
    with process([str(BIN / "wschats"), "serve", "--port", str(port)], env, base, "/health/live"):
        async with httpx.AsyncClient() as client:
            body = (await client.get(base + QUERY, headers=headers)).content
        print(f"[{label}] response body: {len(body)} bytes")
        body_file.write_bytes(body)
        with process(uvicorn_args, {"BARE_BODY_FILE": str(body_file)}, bare, "/rooms"):
            # Both servers run side by side and take turns, so a change in the machine's
            # speed during the run (a shared VM's neighbours) touches both alike.
            per_round = max(1, args.requests // args.rounds)
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(
                    await load(
                        base + QUERY, headers=headers, total=per_round,
                        concurrency=args.concurrency,
                    )
                )  # fmt: skip
                theirs.append(
                    await load(
                        bare + "/rooms", headers={}, total=per_round,
                        concurrency=args.concurrency,
                    )
                )  # fmt: skip
    result, baseline = merged(ours), merged(theirs)
    print(result.line(f"[{label}] wschats GET /rooms"))
    print(baseline.line(f"[{label}] bare FastAPI"))
    ratios = sorted(a.rps / b.rps for a, b in zip(ours, theirs, strict=True))
    ratio = statistics.median(ratios)
    print(
        f"[{label}] throughput ratio wschats/bare: median of {args.rounds} rounds {ratio:.2f} "
        f"(rounds {ratios[0]:.2f} to {ratios[-1]:.2f}; whole run "
        f"{result.rps / baseline.rps:.2f}) (target >= 0.30)"
    )
    return ratio


def merged(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies=[latency for r in results for latency in r.latencies],
        errors=sum(r.errors for r in results),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
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
