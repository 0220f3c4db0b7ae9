"""Large databases written with bulk SQL (PostgreSQL COPY, SQLite executemany), not the API.

Used by the benchmark bench/scale.py and by the tests that check the
statements' plans on a populated database. The schema must exist (migrated) beforehand.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from wschats.domain.model import FileType, RoomType

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ROOM_COLUMNS = ("id", "type", "name", "description", "created_at", "updated_at")
SUBSCRIPTION_COLUMNS = ("room_id", "user_id", "owner", "ordinal", "joined_at")
SETTINGS_COLUMNS = ("user_id", "room_id", "muted_until", "cleared_at", "rank")
FILE_COLUMNS = (
    "id", "type", "name", "size", "mime_type", "user_id", "room_id", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class Rows:
    table: str
    columns: tuple[str, ...]
    rows: Iterable[tuple[Any, ...]]


def _sqlite_value(value: Any) -> Any:
    # Stored as wschats stores them (tables.py): hex ids, UTC timestamps without an offset.
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def write(database_url: str, batches: Sequence[Rows]) -> None:
    """Write `batches` in one transaction, then refresh the planner's statistics."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        with sqlite3.connect(url.database) as conn:
            for batch in batches:
                marks = ", ".join("?" for _ in batch.columns)
                conn.executemany(
                    f"INSERT INTO {batch.table} ({', '.join(batch.columns)}) VALUES ({marks})",
                    ([_sqlite_value(v) for v in row] for row in batch.rows),
                )
            conn.execute("ANALYZE")
        return
    import psycopg

    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as conn:
        for batch in batches:
            columns = ", ".join(batch.columns)
            with conn.cursor().copy(f"COPY {batch.table} ({columns}) FROM STDIN") as copy:
                for row in batch.rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        for batch in batches:
            # VACUUM too: an index-only scan needs the visibility map it writes.
            conn.execute(f"VACUUM ANALYZE {batch.table}")


def rooms(
    listed: Mapping[uuid.UUID, int],
    *,
    total: int,
    members: int = 10,
    population: int = 20_000,
    seed: int = 1,
) -> list[Rows]:
    """`total` group rooms of `members` members each. Each user of `listed` is a member of
    as many rooms as it maps to, spread over the table, with settings in half of them; the
    other members are drawn from `population` made-up users."""
    room_rows: list[tuple[Any, ...]] = []
    member_rows: list[tuple[Any, ...]] = []
    settings_rows: list[tuple[Any, ...]] = []
    others = [uuid.UUID(int=(seed << 64) + n + 1) for n in range(population)]
    spacing = {user: total // count for user, count in listed.items()}
    group = RoomType.GROUP.value
    for n in range(total):
        room_id = uuid.uuid4()
        created = EPOCH + timedelta(seconds=n)
        room_rows.append((room_id, group, f"room {n}", "a populated room", created, created))
        mine = [
            user
            for index, (user, every) in enumerate(spacing.items())
            if (n - index) % every == 0 and 0 <= (n - index) // every < listed[user]
        ]
        chosen = [others[(n * 7 + k * 131) % population] for k in range(members - len(mine))]
        # Settings of someone else in every room, and of a listed user in half of theirs.
        settings_rows.append((chosen[0], room_id, None, created, None))
        for user in mine:
            if ((n - list(spacing).index(user)) // spacing[user]) % 2:
                settings_rows.append((user, room_id, created, None, None))
        chosen += mine
        for ordinal, member in enumerate(chosen):
            member_rows.append((room_id, member, ordinal == len(chosen) - 1, ordinal, created))
    return [
        Rows("room", ROOM_COLUMNS, room_rows),
        Rows("subscription", SUBSCRIPTION_COLUMNS, member_rows),
        Rows("room_user_settings", SETTINGS_COLUMNS, settings_rows),
    ]


def attachments(room_id: uuid.UUID, user_id: uuid.UUID, count: int, *, same_time: int = 3) -> Rows:
    """`count` attachments of `room_id`, `same_time` of them at each timestamp (ties are what
    a keyset cursor must get right)."""

    def produce() -> Iterator[tuple[Any, ...]]:
        kind = FileType.ATTACHMENT.value
        for n in range(count):
            created = EPOCH + timedelta(milliseconds=n // same_time)
            yield (
                uuid.uuid4(), kind, f"file {n}.txt", 10, "text/plain", user_id, room_id,
                created, created,
            )  # fmt: skip

    return Rows("file_metadata", FILE_COLUMNS, produce())
