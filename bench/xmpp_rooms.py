"""Benchmark: room changes through wschats' outbox to a subscribed XMPP client (ejabberd).

N room renames spread over R rooms go through the HTTP API (each room's renames one after
the other, 20 rooms at a time). A real XMPP client (slixmpp), subscribed to every room, must
receive every system message, in order per room. Figures: the time from the first request to
the last message received, and as the baseline, in the same run, the same count of stanzas
sent straight to ejabberd's API (no database, outbox or room checks) into rooms of their own
with users of their own (archives and offline queues grow per user).

    .venv/bin/python bench/xmpp_rooms.py [--changes 1000] [--rooms 100] [--sqlite]

A private ejabberd is started on free ports in a temporary directory (scripts/ejabberd.sh)
and stopped at the end. wschats runs in this process (ASGI), on a throw-away PostgreSQL
database on 127.0.0.1 (SQLite with --sqlite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.events import drop_database, postgres_database
from wschats.adapters.db.migrate import upgrade
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.devtools.app import running_app
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.xmpp_client import XmppUser
from wschats.domain.escapes import decode_header, encode_text
from wschats.ports import NewUser

HOST = "carbonio"
MUC = f"muclight.{HOST}"
CONFIG = "{urn:xmpp:muclight:0#configuration}"
PARALLEL_ROOMS = 20
MESSAGE_WAIT_SECONDS = 120.0


async def received_renames(
    client: XmppUser, expected: int, rooms: set[str]
) -> tuple[dict[str, list[str]], float]:
    """Room -> names in the order received, and when the last arrived (monotonic)."""
    seen: dict[str, list[str]] = defaultdict(list)
    count = 0
    last = time.monotonic()
    while count < expected:
        received = await asyncio.wait_for(client.next(), MESSAGE_WAIT_SECONDS)
        message = received.message
        if message.findtext(f"{CONFIG}x/{CONFIG}operation") != "roomNameChanged":
            continue
        room = (message.get("from") or "").split("/")[0]
        if room not in rooms:
            continue
        seen[room].append(decode_header(message.findtext(f"{CONFIG}x/{CONFIG}value") or ""))
        count += 1
        last = time.monotonic()
    return seen, last


def in_order(seen: dict[str, list[str]], plan: dict[str, list[str]]) -> int:
    """How many rooms received exactly their names, in the order sent."""
    return sum(1 for room, names in plan.items() if seen.get(room) == names)


async def main(changes: int, room_count: int, database_url: str | None) -> int:
    per_room = changes // room_count
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        ejabberd = PrivateEjabberd(data / "ejabberd")
        ejabberd.run("start")
        try:
            url = database_url or f"sqlite:///{data / 'db.sqlite'}"
            upgrade(url)
            settings = Settings(
                data_dir=data, database_url=url, xmpp="ejabberd", xmpp_url=ejabberd.api_url
            )
            async with (
                running_app(settings) as running,
                running.client() as api,
                httpx.AsyncClient(base_url=ejabberd.api_url + "/", timeout=30) as admin,
            ):
                return await run(running.adapters, api, admin, ejabberd, per_room, room_count)
        finally:
            ejabberd.run("stop")


@dataclass
class Side:
    """One phase's own people, rooms and logged-in client: archives and offline queues grow
    per user, so the two phases must not share them."""

    owner: UUID
    headers: dict[str, str]
    client: XmppUser
    jids: dict[str, str]  # room JID -> room id


async def side(
    adapters: Adapters,
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    ejabberd: PrivateEjabberd,
    room_count: int,
) -> Side:
    directory = adapters.directory
    assert directory is not None
    people: dict[str, UUID] = {name: uuid4() for name in ("Alice", "Bob", "Carol")}
    await directory.add_users(
        [NewUser(id=i, email=f"{i}@bench.io", name=n) for n, i in people.items()]
    )
    token = await directory.issue_token(people["Alice"], 3600)
    headers = {"Authorization": f"Bearer {token}"}
    password = secrets.token_urlsafe(12)
    bob = people["Bob"]
    await admin.post("register", json={"user": str(bob), "host": HOST, "password": password})
    room_ids: list[str] = []
    for index in range(room_count):
        created = await api.post(
            "/rooms",
            headers=headers,
            json={
                "type": "group",
                "name": f"room {index}",
                "membersIds": [str(people["Bob"]), str(people["Carol"])],
            },
        )
        assert created.status_code == 201, created.text
        room_ids.append(created.json()["id"])
    await drained(adapters)
    client = XmppUser(f"{bob}@{HOST}", password, ejabberd.c2s_port)
    await client.login()
    await asyncio.sleep(2)  # offline copies of the creation messages arrive at login
    while not client._received.empty():
        client._received.get_nowait()
    return Side(people["Alice"], headers, client, {f"{r}@{MUC}": r for r in room_ids})


async def run(
    adapters: Adapters,
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    ejabberd: PrivateEjabberd,
    per_room: int,
    room_count: int,
) -> int:
    total = per_room * room_count
    limit = asyncio.Semaphore(PARALLEL_ROOMS)
    direct = await side(adapters, api, admin, ejabberd, room_count)
    through = await side(adapters, api, admin, ejabberd, room_count)
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} (2 CPUs)")

    # 1. Baseline: rename stanzas straight into ejabberd (no database, outbox or checks).
    owner = f"{direct.owner}@{HOST}"
    baseline_plan = {
        jid: [f"{room}: direct {i} ✓" for i in range(per_room)] for jid, room in direct.jids.items()
    }

    async def send_all(jid: str) -> None:
        async with limit:
            for name in baseline_plan[jid]:
                stanza = (
                    f"<message xmlns='jabber:client' from='{owner}' to='{jid}' type='groupchat'>"
                    f"<x xmlns='urn:xmpp:muclight:0#configuration'><operation>roomNameChanged"
                    f"</operation><value encoded='UTF-8'>{encode_text(name)}</value></x>"
                    f"<body>{name}</body><store xmlns='urn:xmpp:hints'/></message>"
                )
                response = await admin.post(
                    "send_stanza", json={"from": owner, "to": jid, "stanza": stanza}
                )
                assert response.status_code == 200, response.text

    started = time.monotonic()
    waiting = asyncio.create_task(received_renames(direct.client, total, set(direct.jids)))
    await asyncio.gather(*(send_all(jid) for jid in baseline_plan))
    seen, last = await waiting
    direct_seconds = last - started
    direct_order = in_order(seen, baseline_plan)
    print(
        f"baseline (send_stanza straight to ejabberd): {total} renames over {room_count} rooms, "
        f"received {sum(map(len, seen.values()))}, {direct_order}/{room_count} rooms in order; "
        f"last message after {direct_seconds:.2f} s ({total / direct_seconds:.0f} changes/s)",
        flush=True,
    )

    # 2. Through wschats: HTTP renames, outbox, room checks, titles, readable bodies.
    plan = {
        jid: [f"{room}: wschats {i} ✓" for i in range(per_room)]
        for jid, room in through.jids.items()
    }

    async def rename_all(jid: str) -> None:
        async with limit:
            for name in plan[jid]:
                response = await api.put(
                    f"/rooms/{through.jids[jid]}", headers=through.headers, json={"name": name}
                )
                assert response.status_code == 200, response.text

    started = time.monotonic()
    waiting = asyncio.create_task(received_renames(through.client, total, set(through.jids)))
    await asyncio.gather(*(rename_all(jid) for jid in plan))
    requests_done = time.monotonic()
    seen, last = await waiting
    wschats_seconds = last - started
    wschats_order = in_order(seen, plan)
    print(
        f"wschats: {total} renames over {room_count} rooms, HTTP done in "
        f"{requests_done - started:.2f} s; received {sum(map(len, seen.values()))}, "
        f"{wschats_order}/{room_count} rooms in order; last message after "
        f"{wschats_seconds:.2f} s ({total / wschats_seconds:.0f} changes/s)"
    )
    print(f"wschats / baseline time: {wschats_seconds / direct_seconds:.2f}x")
    print(f"load average after the runs: {os.getloadavg()[0]:.1f} (2 CPUs)")
    for client in (direct.client, through.client):
        await client.close()
    ok = wschats_order == room_count and direct_order == room_count
    print("every message delivered, in order per room" if ok else "MISSING OR OUT OF ORDER")
    return 0 if ok else 1


async def drained(adapters: Adapters) -> None:
    for _ in range(3000):
        if (await adapters.outbox.backlog())[0] == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the outbox did not drain")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    if args.sqlite:
        sys.exit(asyncio.run(main(args.changes, args.rooms, None)))
    name, url = postgres_database()
    try:
        code = asyncio.run(main(args.changes, args.rooms, url))
    finally:
        drop_database(name)
    sys.exit(code)
