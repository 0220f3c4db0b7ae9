"""The room listing's one statement (`SqlRoomRepository.listing_for_user`): a user's rooms
with their settings and members folded into one text column, and its decoding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    true,
    type_coerce,
)

from wschats.adapters.db import tables as t
from wschats.adapters.db.driver_rows import compile_for_driver, plain_uuid
from wschats.adapters.db.tables import parse_uuid, utc_from_sqlite_text
from wschats.domain.model import ListedRoom, MemberRef, Room, RoomType, RoomUserSettings

# A room's members folded into one text value: items of an 11-character ordinal, the user
# id's text and "1"/"0" for owner, joined by commas. Sorting the items as strings restores
# member order (SQLite before 3.44 cannot order inside an aggregate).
_MEMBER_SEPARATOR = ","
_ORDINAL_WIDTH = 11
# SQLite writes the ordinal plus 10**10 (11 digits up to ordinals of 9 * 10**9): cheaper
# than printf's zero padding, which cost about an eighth of the listing's statement.
_ORDINAL_OFFSET = 10**10
# Parsed members by item text without the ordinal: a user's rooms share most members.
_member_cache: dict[str, MemberRef] = {}
_MEMBER_CACHE_SIZE = 100_000


def _folded_members(dialect: str, room_id: Any) -> Any:
    member = t.subscription.alias("member")
    ordinal: ColumnElement[str]
    if dialect == "postgresql":
        ordinal = func.lpad(cast(member.c.ordinal, String), _ORDINAL_WIDTH, "0")
    else:
        ordinal = cast(member.c.ordinal + literal_column(str(_ORDINAL_OFFSET)), String)
    item = ordinal + cast(member.c.user_id, String) + cast(cast(member.c.owner, Integer), String)
    aggregate = func.string_agg if dialect == "postgresql" else func.group_concat
    return (
        select(aggregate(item, _MEMBER_SEPARATOR))
        .where(member.c.room_id == room_id)
        .scalar_subquery()
    )


# Unfolded member lists by their folded text, which determines them: the same rooms come back
# listing after listing, and handing out the same tuple lets rendering reuse its JSON too.
_unfolded_cache: dict[str, tuple[MemberRef, ...]] = {}
_UNFOLDED_CACHE_SIZE = 20_000


def _unfold_members(folded: str | None) -> tuple[MemberRef, ...]:
    if not folded:
        return ()
    unfolded = _unfolded_cache.get(folded)
    if unfolded is not None:
        return unfolded
    members = []
    for item in sorted(folded.split(_MEMBER_SEPARATOR)):
        key = item[_ORDINAL_WIDTH:]
        member = _member_cache.get(key)
        if member is None:
            if len(_member_cache) >= _MEMBER_CACHE_SIZE:
                _member_cache.clear()
            member = _member_cache[key] = MemberRef(parse_uuid(key[:-1]), key[-1] == "1")
        members.append(member)
    if len(_unfolded_cache) >= _UNFOLDED_CACHE_SIZE:
        _unfolded_cache.clear()
    unfolded = _unfolded_cache[folded] = tuple(members)
    return unfolded


# Room's fields in their declaration order, as the listing selects them.
_ROOM_FIELDS = tuple(field.name for field in fields(Room))
_ROOM_WIDTH = len(_ROOM_FIELDS)
_ROOM_TYPES = {kind.value: kind for kind in RoomType}
# Positions of the room's ids and timestamps among its fields.
_ID_FIELDS = tuple(i for i, name in enumerate(_ROOM_FIELDS) if name in ("id", "parent_id",
                                                                        "meeting_id"))  # fmt: skip
_TIME_FIELDS = tuple(i for i, name in enumerate(_ROOM_FIELDS) if name.endswith("_at"))

# Listed rooms by their driver row, which determines them: a user's listing returns the same
# rows time after time, and converting one cost about 2 µs against under 1 µs to find and
# compare the row seen before. Keyed by the room's id and the settings' owner (None without
# settings, the same for everyone), the whole row compared: hashing the whole row (aware
# datetimes, the long members text) cost 2.7 µs a row in a busy process. The objects are
# shared: nothing may change them. Bounded.
_listed_cache: dict[tuple[Any, Any, bool], tuple[tuple[Any, ...], ListedRoom]] = {}
_LISTED_CACHE_SIZE = 5_000
_SETTINGS_WIDTH = 4  # after the room's fields: muted_until, cleared_at, rank, the owner's id
_SETTINGS_OWNER = _ROOM_WIDTH + _SETTINGS_WIDTH - 1


def listed_rooms(
    rows: Sequence[Sequence[Any]], user_id: UUID, with_members: bool, dialect: str
) -> list[ListedRoom]:
    """The listing's driver rows (`driver_rows`) as domain objects."""
    listed = []
    for row in rows:
        key = (row[0], row[_SETTINGS_OWNER], with_members)
        entry = _listed_cache.get(key)
        if entry is None or entry[0] != row:  # asyncpg's records compare equal to tuples
            if len(_listed_cache) >= _LISTED_CACHE_SIZE:
                _listed_cache.clear()
            values = tuple(row)
            entry = _listed_cache[key] = (
                values,
                _listed_room(values, user_id, with_members, dialect),
            )
        listed.append(entry[1])
    return listed


def _listed_room(
    values: tuple[Any, ...], user_id: UUID, with_members: bool, dialect: str
) -> ListedRoom:
    room_values = list(values[:_ROOM_WIDTH])
    for i in _ID_FIELDS:
        if room_values[i] is not None:
            room_values[i] = (
                parse_uuid(room_values[i]) if dialect == "sqlite" else plain_uuid(room_values[i])
            )
    if dialect == "sqlite":
        for i in _TIME_FIELDS:
            room_values[i] = utc_from_sqlite_text(room_values[i])
    room = Room(*room_values)
    room.type = _ROOM_TYPES[room.type]
    settings_values = values[_ROOM_WIDTH : _ROOM_WIDTH + _SETTINGS_WIDTH]
    muted_until, cleared_at, rank, has_settings = settings_values
    if dialect == "sqlite":
        muted_until = utc_from_sqlite_text(muted_until)
        cleared_at = utc_from_sqlite_text(cleared_at)
    return ListedRoom(
        room=room,
        settings=(
            RoomUserSettings(
                user_id=user_id,
                room_id=room.id,
                muted_until=muted_until,
                cleared_at=cleared_at,
                rank=rank,
            )
            if has_settings is not None
            else None
        ),
        members=_unfold_members(values[_ROOM_WIDTH + _SETTINGS_WIDTH]) if with_members else None,
    )


def _listing_statement(dialect: str, with_members: bool) -> Any:
    """The room listing's statement, built once per dialect (building it costs more than
    running it)."""
    me = t.subscription.alias("me")
    mine = t.room_user_settings
    user_id = bindparam("user_id", type_=t.CachedUuid)
    columns: list[Any] = [
        *(t.room.c[name] for name in _ROOM_FIELDS),
        mine.c.muted_until.label("settings_muted_until"),
        mine.c.cleared_at.label("settings_cleared_at"),
        mine.c.rank.label("settings_rank"),
        # Only tested for presence: no need to parse it.
        type_coerce(mine.c.user_id, String).label("settings_user_id"),
    ]
    if dialect != "postgresql":
        # SQLite's planner walks the user's subscriptions first (nested loops) by itself.
        if with_members:
            columns.append(_folded_members(dialect, t.room.c.id).label("members"))
        return (
            select(*columns)
            .select_from(
                me.join(t.room, t.room.c.id == me.c.room_id).outerjoin(
                    mine, and_(mine.c.room_id == me.c.room_id, mine.c.user_id == me.c.user_id)
                )
            )
            .where(me.c.user_id == user_id)
            .where(t.room.c.type != RoomType.CHANNEL.value)
            .order_by(t.room.c.created_at, t.room.c.id)
        )
    # Each of the user's rooms (and settings) by its key, from the user's subscriptions (an
    # index-only scan). OFFSET keeps the planner from flattening the subquery into a join,
    # where it turned to a sequential scan of every room once the user had some hundreds
    # (issue 16): the cost follows the user's rooms, not the installation's.
    listed = (
        select(*columns)
        .select_from(
            t.room.outerjoin(
                mine, and_(mine.c.room_id == t.room.c.id, mine.c.user_id == me.c.user_id)
            )
        )
        .where(t.room.c.id == me.c.room_id)
        .where(t.room.c.type != RoomType.CHANNEL.value)
        .offset(0)
        .lateral("listed")
    )
    # Read by position (listed_room): a Row's attribute access costs half a microsecond.
    selected: list[Any] = list(listed.c)
    if with_members:
        selected.append(_folded_members(dialect, listed.c.id).label("members"))
    return (
        select(*selected)
        .select_from(me.join(listed, true()))
        .where(me.c.user_id == user_id)
        .order_by(listed.c.created_at, listed.c.id)
    )


def listing_statement(dialect: str, *, with_members: bool) -> Any:
    """The statement of `SqlRoomRepository.listing_for_user` (parameter: user_id)."""
    return _listing_statements[dialect, with_members]


_listing_statements = {
    (dialect, with_members): _listing_statement(dialect, with_members)
    for dialect in ("sqlite", "postgresql")
    for with_members in (False, True)
}
# The same, compiled for the drivers (driver_rows), by members asked for, then dialect.
LISTING_FOR_DRIVER = {
    with_members: {
        dialect: compile_for_driver(_listing_statements[dialect, with_members], dialect)
        for dialect in ("sqlite", "postgresql")
    }
    for with_members in (False, True)
}
