"""Table definitions. Alembic migrations (migrations/versions) must match these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones, so values are normalised on the way in and out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # One C call per value instead of the generic chain (the impl's parser, then
        # process_result_value): listings read hundreds of timestamps.
        if dialect.name == "sqlite":
            return utc_from_sqlite_text

        def to_utc(value: Any) -> datetime | None:
            if value is None or value.tzinfo is UTC:
                return value  # type: ignore[no-any-return]
            return self.process_result_value(value, dialect)

        return to_utc


def utc_from_sqlite_text(value: str | None) -> datetime | None:
    """A timestamp as SQLite stores it (`UTCDateTime`), aware, in UTC."""
    if value is None:
        return None
    try:
        # Stored without an offset (process_bind_param); appending it is 5 times faster than
        # replace(tzinfo=...).
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # written with an offset by something else
        return datetime.fromisoformat(value).astimezone(UTC)


# Parsed ids by their stored text. Room listings read thousands of ids that repeat (a room's id
# on each of its member rows, the same contacts in many rooms); parsing each costs a
# microsecond, a lookup almost nothing. Bounded: cleared when it grows past this size.
_UUID_CACHE_SIZE = 100_000
_uuid_cache: dict[str, UUID] = {}


class CachedUuid(TypeDecorator[UUID]):
    """`Uuid` (same DDL: native on PostgreSQL, hex CHAR(32) on SQLite) whose SQLite read path
    reuses parsed values. PostgreSQL's driver already returns UUID objects."""

    impl = Uuid
    cache_ok = True

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], UUID | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: Any) -> UUID | None:
            return None if value is None else parse_uuid(value)

        return process


def parse_uuid(text: str) -> UUID:
    """A UUID from its stored text (hex or hyphenated), parsed once per distinct value."""
    found = _uuid_cache.get(text)
    if found is None:
        if len(_uuid_cache) >= _UUID_CACHE_SIZE:
            _uuid_cache.clear()
        found = _uuid_cache[text] = UUID(text)
    return found


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_BigIntId = BigInteger().with_variant(Integer(), "sqlite")

room = Table(
    "room",
    metadata,
    Column("id", CachedUuid, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("name", String(128)),
    Column("description", String(256)),
    Column("parent_id", CachedUuid, ForeignKey("room.id", ondelete="CASCADE")),
    Column("rank", Integer),
    Column("picture_updated_at", UTCDateTime()),
    Column("meeting_id", CachedUuid),
    # "<smaller id>:<larger id>" for one-to-one rooms: the unique index makes a duplicate pair
    # impossible even under concurrent creation.
    Column("one_to_one_key", String(80), unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_room_parent_rank", "parent_id", "rank"),
)

subscription = Table(
    "subscription",
    metadata,
    Column("room_id", CachedUuid, ForeignKey("room.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", CachedUuid, primary_key=True),
    Column("owner", Boolean, nullable=False, default=False),
    Column("ordinal", Integer, nullable=False, default=0),
    Column("joined_at", UTCDateTime(), nullable=False),
    # A user's room ids, read from the index alone (the room listing).
    Index("ix_subscription_user_room", "user_id", "room_id"),
)

room_user_settings = Table(
    "room_user_settings",
    metadata,
    Column("user_id", CachedUuid, primary_key=True),
    Column("room_id", CachedUuid, ForeignKey("room.id", ondelete="CASCADE"), primary_key=True),
    Column("muted_until", UTCDateTime()),
    Column("cleared_at", UTCDateTime()),
    Column("rank", Integer),
    Index("ix_settings_room", "room_id"),
)

file_metadata = Table(
    "file_metadata",
    metadata,
    Column("id", CachedUuid, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mime_type", String(256), nullable=False),
    Column("user_id", CachedUuid, nullable=False),
    Column("room_id", CachedUuid, ForeignKey("room.id", ondelete="SET NULL")),
    Column("area", String(32)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_file_room_page", "room_id", "type", "created_at", "id"),
    Index("ix_file_user_type", "user_id", "type"),
)

chats_user = Table(
    "chats_user",
    metadata,
    Column("id", CachedUuid, primary_key=True),
    Column("picture_updated_at", UTCDateTime()),
    Column("status_message", String(256), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

meeting = Table(
    "meeting",
    metadata,
    Column("id", CachedUuid, primary_key=True),
    Column(
        "room_id",
        CachedUuid,
        ForeignKey("room.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("name", String(128)),
    Column("meeting_type", String(32), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("started_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

participant = Table(
    "participant",
    metadata,
    Column(
        "meeting_id", CachedUuid, ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_id", CachedUuid, primary_key=True),
    Column("queue_id", CachedUuid),
    Column("audio_stream_on", Boolean, nullable=False, default=False),
    Column("video_stream_on", Boolean, nullable=False, default=False),
    Column("screen_stream_on", Boolean, nullable=False, default=False),
    Column("joined_at", UTCDateTime(), nullable=False),
)

# XMPP commands recorded with the change they belong to, delivered after commit in id order
# per room.
outbox = Table(
    "outbox",
    metadata,
    Column("id", _BigIntId, primary_key=True, autoincrement=True),
    Column("room_key", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_outbox_room", "room_key", "id"),
)

directory_user = Table(
    "directory_user",
    metadata,
    Column("id", CachedUuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("name", String(256), nullable=False),
    Column("type", String(16), nullable=False),
    Column("password_hash", String(256)),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

directory_token = Table(
    "directory_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex: tokens are not stored
    Column(
        "user_id", CachedUuid, ForeignKey("directory_user.id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_token_user", "user_id"),
)
