"""Benchmark: costs that must follow the user's data, not the installation's (issue 16).

On SQLite and on PostgreSQL, databases written with bulk SQL (wschats.devtools.populate):
- small: 1,000 rooms of 10 members, a user in all 1,000;
- large: 100,000 rooms of 10 (1,000,000 memberships), users in 10, 100 and 1,000 of them, and
  rooms of 10,000 and of 1,000,000 attachments (three at each timestamp).
Then, all in one run:
- GET /rooms (members and settings) for the user in 1,000 rooms, small database against large,
  as SQL (the listing's statement with the plain driver, median of repeated runs) and over
  HTTP (wrk against `wschats serve`), in turns: the large one may cost at most 1.2x.
- attachment pages of 20 (GET /rooms/{id}/attachments): page 1, 100 and 450, as SQL and over
  HTTP: page 450 may cost at most 1.5x page 1, in both rooms.
- the cost-growth table: GET /rooms at 10/100/1,000 rooms per user, pages 1/100/450.
- SQLite writers (16 and 64 connections): POST /rooms, member changes, uploads, with a
  reader listing rooms alongside: 0 errors, p99 at most 10x p50.

    .venv/bin/python bench/scale.py [--seconds 3] [--rounds 2] [--attachments 1000000]
        [--only sqlite|postgres|writers] [--skip-writers] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import BIN, free_port, process
from bench.wrk import WrkResult, wrk
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.driver_rows import compile_for_driver
from wschats.adapters.db.engine import SQLITE_MMAP_BYTES
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.repositories import attachment_page_statement, listing_statement
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.devtools import populate
from wschats.domain.model import FileMetadata
from wschats.ports import NewUser
from wschats.services.attachments import encode_cursor

LISTING = "/rooms?extraFields=members&extraFields=settings"
PAGE = 20
PAGES = (1, 100, 450)
ROOMS_PER_USER = (10, 100, 1000)


class Installation:
    """A migrated database with users (tokens) and what the benchmark populated."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.users: dict[int, tuple[uuid.UUID, str]] = {}  # rooms per user -> (id, token)
        self.files_rooms: dict[int, uuid.UUID] = {}  # attachments -> room
        self.cursors: dict[tuple[int, int], FileMetadata | None] = {}  # the item before a page

    async def add_users(self, counts: tuple[int, ...]) -> None:
        upgrade(self.url)
        database = SqlDatabase(self.url)
        directory = DirectoryIdentity(database)
        tag = uuid.uuid4().hex[:8]
        ids = await directory.add_users(
            [NewUser(email=f"r{n}-{tag}@bench.io", name=f"In {n}") for n in counts]
        )
        for count, user_id in zip(counts, ids, strict=True):
            self.users[count] = (user_id, await directory.issue_token(user_id, 24 * 3600))
        await database.close()

    def populate(self, total_rooms: int, attachments: tuple[int, ...]) -> None:
        listed = {user_id: count for count, (user_id, _) in self.users.items()}
        batches = populate.rooms(listed, total=total_rooms)
        owner = self.users[max(self.users)][0]
        for count in attachments:
            room_id = uuid.uuid4()
            self.files_rooms[count] = room_id
            now = populate.EPOCH
            batches.append(
                populate.Rows(
                    "room", populate.ROOM_COLUMNS, [(room_id, "group", "files", "", now, now)]
                )
            )
            batches.append(
                populate.Rows(
                    "subscription",
                    populate.SUBSCRIPTION_COLUMNS,
                    [(room_id, owner, True, 0, now)],
                )
            )
            batches.append(populate.attachments(room_id, owner, count))
        populate.write(self.url, batches)

    async def find_cursors(self) -> None:
        database = SqlDatabase(self.url)
        async with database.reads() as uow:
            for count, room_id in self.files_rooms.items():
                for page in PAGES:
                    before = await uow.files.page(room_id, (page - 1) * PAGE, None)
                    self.cursors[count, page] = before[-1] if before else None
        await database.close()

    def page_path(self, count: int, page: int) -> str:
        path = f"/rooms/{self.files_rooms[count]}/attachments?itemsNumber={PAGE}"
        last = self.cursors[count, page]
        if last is None:
            return path
        return path + "&filter=" + quote(encode_cursor(last), safe="")

    def page_after(self, count: int, page: int) -> tuple[datetime, uuid.UUID] | None:
        last = self.cursors[count, page]
        return None if last is None else (last.created_at, last.id)


# ------------------------------------------------------------------------------ SQL level


class Driver:
    """The repositories' statements run with the plain driver: the database's own cost."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith("postgresql")

    def timed(self, statement: Any, parameters: dict[str, Any], repeat: int) -> float:
        """Median milliseconds of `repeat` runs (rows fetched)."""
        if self.postgres:
            import psycopg
            from sqlalchemy.dialects.postgresql.psycopg import dialect

            compiled = statement.compile(dialect=dialect())  # type: ignore[no-untyped-call]
            bound = {**compiled.params, **parameters}
            with psycopg.connect(self.url) as conn:
                return _median_ms(lambda: conn.execute(compiled.string, bound).fetchall(), repeat)
        import sqlite3

        compiled = compile_for_driver(statement, "sqlite")
        ordered = compiled.arguments(parameters)
        with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
            conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")  # as wschats reads
            return _median_ms(lambda: conn.execute(compiled.sql, ordered).fetchall(), repeat)


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


# ------------------------------------------------------------------------------ HTTP level


@contextmanager
def server(url: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "WSC_DATABASE_URL": url,
        "WSC_DATA_DIR": tempfile.mkdtemp(),
        "WSC_LOG_LEVEL": "error",
        # The populated attachment rows have no stored bytes: a start-up sweep would spend the
        # measurement removing them in the measured server's event loop.
        "WSC_STORAGE_SWEEP_ON_START": "false",
    }
    with process([str(BIN / "wschats"), "serve", "--port", str(port)], env, base, "/health/live"):
        yield base


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def compare(label: str, runs: dict[str, list[float]], limit: float, unit: str) -> list[str]:
    """Lines for measurements taken in turns: each series' median, the ratio to the first."""
    names = list(runs)
    first = statistics.median(runs[names[0]])
    lines = []
    for name in names:
        value = statistics.median(runs[name])
        ratio = value / first
        verdict = "" if name == names[0] else f"  {ratio:.2f}x (target <= {limit}x)"
        spread = ", ".join(f"{v:.2f}" for v in runs[name])
        lines.append(f"{label} {name:<24} {value:8.2f} {unit} (rounds {spread}){verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each comparison")
    parser.add_argument("--repeat", type=int, default=30, help="SQL runs per SQL figure")
    parser.add_argument("--attachments", type=int, default=1_000_000, help="the large room's")
    parser.add_argument("--only", choices=("sqlite", "postgres", "writers"))
    parser.add_argument("--skip-writers", action="store_true")
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin URL; scratch databases are created and dropped",
    )  # fmt: skip
    args = parser.parse_args()
    if args.only == "writers":
        writers(f"sqlite:///{tempfile.mkdtemp()}/writers.db", args)
        return
    if args.only != "postgres":
        folder = tempfile.mkdtemp()
        run_backend("sqlite", f"sqlite:///{folder}/small.db", f"sqlite:///{folder}/large.db", args)
        if not args.skip_writers:
            writers(f"sqlite:///{folder}/writers.db", args)
    if args.only != "sqlite":
        import psycopg

        names = [f"wsc_scale_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        base = args.pg_url.rsplit("/", 1)[0]
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
        try:
            run_backend("postgres", f"{base}/{names[0]}", f"{base}/{names[1]}", args)
        finally:
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                for name in names:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(label: str, small_url: str, large_url: str, args: argparse.Namespace) -> None:
    small, large = Installation(small_url), Installation(large_url)
    began = time.perf_counter()
    asyncio.run(small.add_users((1000,)))
    small.populate(1000, ())
    asyncio.run(large.add_users(ROOMS_PER_USER))
    large.populate(100_000, (10_000, args.attachments))
    asyncio.run(large.find_cursors())
    print(f"[{label}] populated in {time.perf_counter() - began:.0f} s", flush=True)

    # SQL level, in turns.
    statement = listing_statement("postgresql" if label == "postgres" else "sqlite",
                                  with_members=True)  # fmt: skip
    sql: dict[str, list[float]] = {"1,000 rooms": [], "100,000 rooms": []}
    for _ in range(args.rounds):
        for name, where in (("1,000 rooms", small), ("100,000 rooms", large)):
            sql[name].append(
                Driver(where.url).timed(statement, {"user_id": where.users[1000][0]}, args.repeat)
            )
    for line in compare(f"[{label}] SQL listing, user in 1,000 rooms:", sql, 1.2, "ms"):
        print(line, flush=True)
    pages_sql: dict[int, dict[str, list[float]]] = {}
    driver = Driver(large.url)
    for count, room_id in large.files_rooms.items():
        pages_sql[count] = {f"page {p}": [] for p in PAGES}
        for _ in range(args.rounds):
            for page in PAGES:
                statement = attachment_page_statement(
                    room_id, PAGE + 1, large.page_after(count, page)
                )
                pages_sql[count][f"page {page}"].append(driver.timed(statement, {}, args.repeat))
        for line in compare(f"[{label}] SQL attachments of {count:,}:", pages_sql[count], 1.5,
                            "ms"):  # fmt: skip
            print(line, flush=True)

    # HTTP level: both servers up, wrk in turns.
    with server(small.url) as small_base, server(large.url) as large_base:
        for base, where in ((small_base, small), (large_base, large)):
            for _, token in where.users.values():  # warm: caches, pools, pages
                for _ in range(3):
                    httpx.get(base + LISTING, headers=auth(token), timeout=120).raise_for_status()
        http: dict[str, list[WrkResult]] = {"1,000 rooms": [], "100,000 rooms": []}
        for _ in range(args.rounds):
            for name, base, where in (
                ("1,000 rooms", small_base, small), ("100,000 rooms", large_base, large),
            ):  # fmt: skip
                http[name].append(
                    wrk(base + LISTING, seconds=args.seconds, connections=1,
                        headers=auth(where.users[1000][1]))
                )  # fmt: skip
        for name, results in http.items():
            for number, result in enumerate(results, 1):
                print(result.line(f"[{label}] HTTP listing, {name}, round {number}"))
        mean_ms = {name: [1000 / r.rps for r in results] for name, results in http.items()}
        for line in compare(f"[{label}] HTTP listing, user in 1,000 rooms:", mean_ms, 1.2,
                            "ms/request"):  # fmt: skip
            print(line, flush=True)

        growth: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for count in ROOMS_PER_USER:
                result = wrk(large_base + LISTING, seconds=args.seconds, connections=1,
                             headers=auth(large.users[count][1]))  # fmt: skip
                growth.setdefault(f"GET /rooms, {count:,} rooms", []).append(result.p50_ms)
            for files in large.files_rooms:
                for page in PAGES:
                    result = wrk(large_base + large.page_path(files, page), seconds=args.seconds,
                                 connections=1, headers=auth(large.users[1000][1]))  # fmt: skip
                    assert result.errors == 0, result
                    growth.setdefault(f"attachments of {files:,}, page {page}", []).append(
                        result.p50_ms
                    )
    print(f"[{label}] cost growth over HTTP (p50 ms, one connection, rounds in turns):")
    for name, values in growth.items():
        spread = ", ".join(f"{v:.2f}" for v in values)
        print(f"[{label}]   {name:<36} {statistics.median(values):8.2f} ms  (rounds {spread})")
    for files in large.files_rooms:
        first = statistics.median(growth[f"attachments of {files:,}, page 1"])
        deep = statistics.median(growth[f"attachments of {files:,}, page 450"])
        print(f"[{label}] HTTP attachments of {files:,}: page 450 / page 1 = {deep / first:.2f}x "
              "(target <= 1.5x)")  # fmt: skip


def writers(url: str, args: argparse.Namespace) -> None:
    """SQLite under concurrent writers, a reader listing rooms alongside."""
    installation = Installation(url)
    asyncio.run(installation.add_users((1, 2, 3)))
    (_, token), (other, _), (third, _) = (installation.users[n] for n in (1, 2, 3))
    headers = auth(token)
    with server(url) as base:

        def create_group(name: str) -> str:
            response = httpx.post(
                base + "/rooms", headers=headers,
                json={"type": "group", "name": name, "membersIds": [str(other), str(third)]},
            )  # fmt: skip
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        rooms = [create_group(f"changes {n}") for n in range(8)]
        room_body = b'{"type":"group","name":"load","membersIds":["%s","%s"]}' % (
            str(other).encode(),
            str(third).encode(),
        )
        # Member changes: the other member made owner, in turn in each room (idempotent).
        owner_paths = [f"/rooms/{room}/members/{other}/owner" for room in rooms]
        upload_headers = {**headers, "fileName": "notes.txt", "mimeType": "text/plain"}
        json_headers = {**headers, "Content-Type": "application/json"}
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("POST /rooms", "/rooms", {"method": "POST", "body": room_body,
                                        "headers": json_headers}),
            ("PUT .../members/{id}/owner", owner_paths[0], {"method": "PUT", "paths": owner_paths,
                                                            "headers": headers}),
            ("POST .../attachments", f"/rooms/{rooms[0]}/attachments",
             {"method": "POST", "body": b"x" * 1024, "headers": upload_headers}),
        ]  # fmt: skip
        for connections in (16, 64):
            for name, path, options in cases:
                with ThreadPoolExecutor(1) as pool:
                    reader = pool.submit(wrk, base + LISTING, seconds=args.seconds,
                                         connections=1, headers=headers)  # fmt: skip
                    result = wrk(base + path, seconds=args.seconds, connections=connections,
                                 timeout_s=60, **options)  # fmt: skip
                    reader_result = reader.result()
                ratio = result.p99_ms / result.p50_ms
                print(result.line(f"[sqlite] {connections} writers {name}")
                      + f"  p99/p50 {ratio:.1f} (target <= 10, errors 0)")  # fmt: skip
                print(reader_result.line("[sqlite]   alongside: 1 reader GET /rooms"))


if __name__ == "__main__":
    main()
