"""The same-work floor for bench/rooms_list.py: a bare ASGI endpoint (no framework, no auth
checks) that runs the room listing's queries (the token lookup and the listing, the SQL that
wschats sends) with the plain driver, asyncpg or sqlite3, and writes the same JSON with orjson.

    FLOOR_DATABASE_URL=... uvicorn --app-dir bench floor_app:app
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy.engine import make_url

from wschats.adapters.db.driver_rows import compile_for_driver
from wschats.adapters.db.engine import SQLITE_MMAP_BYTES
from wschats.adapters.db.repositories import listing_statement
from wschats.adapters.identity.directory import _AUTHENTICATE

URL = make_url(os.environ["FLOOR_DATABASE_URL"])
DIALECT = URL.get_backend_name()
ASGI = Callable[..., Awaitable[None]]


LISTING = compile_for_driver(listing_statement(DIALECT, with_members=True), DIALECT)
AUTH = compile_for_driver(_AUTHENTICATE, DIALECT)


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    return f"{value[:10]}T{value[11:23]}Z"  # SQLite's stored text


def _id(value: Any) -> str:
    text = str(value)
    if len(text) == 32:  # SQLite's hex
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def _members(folded: str | None) -> orjson.Fragment:
    """The members array, written as text from the folded column."""
    if not folded:
        return orjson.Fragment(b"[]")
    parts = [
        f'{{"userId":"{_id(item[11:-1])}","owner":{"true" if item[-1] == "1" else "false"}}}'
        for item in sorted(folded.split(","))
    ]
    return orjson.Fragment(("[" + ",".join(parts) + "]").encode())


def _body(rows: Sequence[Sequence[Any]]) -> bytes:
    rooms = []
    for row in rows:
        (id_, kind, name, description, created, updated, parent, _rank, picture, meeting) = row[:10]
        muted_until, cleared_at, settings_rank, _, members = row[10:]
        room: dict[str, Any] = {"id": _id(id_)}
        if name is not None:
            room["name"] = name
        if description is not None:
            room["description"] = description
        room["type"] = kind
        if parent is not None:
            room["parentId"] = _id(parent)
        if settings_rank is not None:
            room["rank"] = settings_rank
        if meeting is not None:
            room["meetingId"] = _id(meeting)
        if picture is not None:
            room["pictureUpdatedAt"] = _time(picture)
        room["createdAt"] = _time(created)
        room["updatedAt"] = _time(updated)
        room["members"] = _members(members)
        settings: dict[str, Any] = {"muted": muted_until is not None}
        if cleared_at is not None:
            settings["clearedAt"] = _time(cleared_at)
        room["userSettings"] = settings
        rooms.append(room)
    return orjson.dumps(rooms)


def _token(scope: dict[str, Any]) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode()[len("Bearer ") :])
    return ""


class Floor:
    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None
        self._sqlite: sqlite3.Connection | None = None

    async def _rows(self, token: str) -> bytes:
        auth_args = AUTH.arguments({"token_hash": hashlib.sha256(token.encode()).hexdigest()})
        if DIALECT == "postgresql":
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    URL.set(drivername="postgresql").render_as_string(False),
                    min_size=16,
                    max_size=16,
                )
            async with self._pool.acquire() as conn:
                user = await conn.fetchrow(AUTH.sql, *auth_args)
                args = LISTING.arguments({"user_id": user[0]})
                return _body(await conn.fetch(LISTING.sql, *args))
        if self._sqlite is None:
            self._sqlite = sqlite3.connect(str(URL.database), check_same_thread=False)
            # Read as wschats reads (engine.py): through the memory map.
            self._sqlite.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        user = self._sqlite.execute(AUTH.sql, auth_args).fetchone()
        args = LISTING.arguments({"user_id": uuid.UUID(user[0])})  # stored as hex text
        return _body(self._sqlite.execute(LISTING.sql, args).fetchall())

    async def __call__(self, scope: dict[str, Any], receive: ASGI, send: ASGI) -> None:
        if scope["type"] != "http":
            return
        body = await self._rows(_token(scope)) if scope["path"] == "/rooms" else b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


app = Floor()
