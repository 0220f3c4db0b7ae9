"""Repositories over one open transaction (SQLAlchemy Core, no ORM session)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from wschats.adapters.db import tables as t
from wschats.adapters.db.commands import encode_command
from wschats.adapters.db.engine import key_lookup
from wschats.adapters.db.statements import Statements, transactional
from wschats.adapters.db.tables import parse_uuid
from wschats.domain.errors import BadRequest, Conflict
from wschats.domain.messaging import MessagingCommand
from wschats.domain.model import (
    ChatsUser,
    FileMetadata,
    FileReach,
    FileType,
    ListedRoom,
    Meeting,
    MeetingType,
    MemberRef,
    Participant,
    Room,
    RoomType,
    RoomUserSettings,
    Subscription,
)
from wschats.domain.time import utc_now


def _room(row: Any) -> Room:
    return Room(
        id=row.id,
        type=RoomType(row.type),
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        parent_id=row.parent_id,
        rank=row.rank,
        picture_updated_at=row.picture_updated_at,
        meeting_id=row.meeting_id,
    )


def _room_values(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "type": room.type.value,
        "name": room.name,
        "description": room.description,
        "parent_id": room.parent_id,
        "rank": room.rank,
        "picture_updated_at": room.picture_updated_at,
        "meeting_id": room.meeting_id,
        "created_at": room.created_at,
        "updated_at": room.updated_at,
    }


def _subscription(row: Any) -> Subscription:
    return Subscription(
        room_id=row.room_id,
        user_id=row.user_id,
        owner=row.owner,
        joined_at=row.joined_at,
        ordinal=row.ordinal,
    )


def _settings(row: Any) -> RoomUserSettings:
    return RoomUserSettings(
        user_id=row.user_id,
        room_id=row.room_id,
        muted_until=row.muted_until,
        cleared_at=row.cleared_at,
        rank=row.rank,
    )


def _file(row: Any) -> FileMetadata:
    return FileMetadata(
        id=row.id,
        type=FileType(row.type),
        name=row.name,
        size=row.size,
        mime_type=row.mime_type,
        user_id=row.user_id,
        room_id=row.room_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        area=row.area,
    )


async def upsert(
    conn: Statements,
    table: Table,
    values: dict[str, Any],
    *,
    keys: tuple[str, ...],
    keep: tuple[str, ...] = (),
) -> None:
    """Insert a row, or update it if its key exists, in one statement: two writers creating
    the same row at once must not collide (update-then-insert does on PostgreSQL)."""
    insert_of = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert_of(table).values(**values)
    changed = {name: statement.excluded[name] for name in values if name not in (*keys, *keep)}
    await conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


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


def _listed_room(row: Any, user_id: UUID, with_members: bool) -> ListedRoom:
    values = tuple(row)
    room = Room(*values[:_ROOM_WIDTH])
    room.type = _ROOM_TYPES[room.type]
    muted_until, cleared_at, rank, has_settings = values[_ROOM_WIDTH : _ROOM_WIDTH + 4]
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
        members=_unfold_members(values[_ROOM_WIDTH + 4]) if with_members else None,
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
    # Read by position (_listed_room): a Row's attribute access costs half a microsecond.
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


def one_to_one_key(user_a: UUID, user_b: UUID) -> str:
    first, second = sorted((str(user_a), str(user_b)))
    return f"{first}:{second}"


class SqlRoomRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, room_id: UUID) -> Room | None:
        row = (await self._conn.execute(select(t.room).where(t.room.c.id == room_id))).first()
        return _room(row) if row else None

    async def get_many(self, room_ids: Sequence[UUID]) -> list[Room]:
        if not room_ids:
            return []
        rows = await self._conn.execute(
            select(t.room).where(t.room.c.id.in_(room_ids)).order_by(t.room.c.created_at)
        )
        return [_room(r) for r in rows]

    async def add(self, room: Room, *, one_to_one_pair: tuple[UUID, UUID] | None = None) -> None:
        values = _room_values(room)
        if one_to_one_pair is not None:
            values["one_to_one_key"] = one_to_one_key(*one_to_one_pair)
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(insert(t.room).values(**values))
        except IntegrityError as exc:
            if one_to_one_pair is not None:
                raise Conflict("A one-to-one room already exists for these users") from exc
            raise

    async def update(self, room: Room) -> None:
        values = _room_values(room)
        del values["id"]
        await self._conn.execute(update(t.room).where(t.room.c.id == room.id).values(**values))

    async def delete(self, room_id: UUID) -> None:
        await self._conn.execute(delete(t.room).where(t.room.c.id == room_id))

    async def list_top_level_for_user(self, user_id: UUID) -> list[Room]:
        rows = await self._conn.execute(
            select(t.room)
            .join(t.subscription, t.subscription.c.room_id == t.room.c.id)
            .where(t.subscription.c.user_id == user_id)
            .where(t.room.c.type != RoomType.CHANNEL.value)
            .order_by(t.room.c.created_at, t.room.c.id)
        )
        return [_room(r) for r in rows]

    async def listing_for_user(self, user_id: UUID, *, with_members: bool) -> list[ListedRoom]:
        # One statement: the caller's settings joined, members folded into one text column per
        # room. Reading a row per member cost most of a listing's time (bench/RESULTS.md).
        statement = listing_statement(self._conn.dialect.name, with_members=with_members)
        rows = await self._conn.execute(statement, {"user_id": user_id})
        return [_listed_room(row, user_id, with_members) for row in rows]

    async def children_of(self, workspace_ids: Sequence[UUID]) -> dict[UUID, list[Room]]:
        result: dict[UUID, list[Room]] = {w: [] for w in workspace_ids}
        if not workspace_ids:
            return result
        rows = await self._conn.execute(
            select(t.room)
            .where(t.room.c.parent_id.in_(workspace_ids))
            .order_by(t.room.c.rank, t.room.c.created_at, t.room.c.id)
        )
        for row in rows:
            result[row.parent_id].append(_room(row))
        return result

    async def max_channel_rank(self, workspace_id: UUID) -> int:
        value = await self._conn.scalar(
            select(func.max(t.room.c.rank)).where(t.room.c.parent_id == workspace_id)
        )
        return int(value or 0)

    async def find_one_to_one(self, user_a: UUID, user_b: UUID) -> Room | None:
        row = (
            await self._conn.execute(
                select(t.room).where(t.room.c.one_to_one_key == one_to_one_key(user_a, user_b))
            )
        ).first()
        return _room(row) if row else None


class SqlSubscriptionRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def of_room(self, room_id: UUID) -> list[Subscription]:
        rows = await self._conn.execute(
            select(t.subscription)
            .where(t.subscription.c.room_id == room_id)
            .order_by(t.subscription.c.ordinal, t.subscription.c.joined_at)
        )
        return [_subscription(r) for r in rows]

    async def add(self, subscription: Subscription) -> None:
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(
                    insert(t.subscription).values(
                        room_id=subscription.room_id,
                        user_id=subscription.user_id,
                        owner=subscription.owner,
                        ordinal=subscription.ordinal,
                        joined_at=subscription.joined_at,
                    )
                )
        except IntegrityError as exc:
            raise BadRequest(f"User {subscription.user_id} is already a member") from exc

    async def add_many(self, subscriptions: Sequence[Subscription]) -> None:
        if subscriptions:
            await self._conn.execute(
                insert(t.subscription),
                [
                    {
                        "room_id": s.room_id,
                        "user_id": s.user_id,
                        "owner": s.owner,
                        "ordinal": s.ordinal,
                        "joined_at": s.joined_at,
                    }
                    for s in subscriptions
                ],
            )

    async def remove(self, room_id: UUID, user_id: UUID) -> None:
        await self._conn.execute(
            delete(t.subscription).where(
                and_(t.subscription.c.room_id == room_id, t.subscription.c.user_id == user_id)
            )
        )

    async def set_owner(self, room_id: UUID, user_id: UUID, owner: bool) -> None:
        await self._conn.execute(
            update(t.subscription)
            .where(and_(t.subscription.c.room_id == room_id, t.subscription.c.user_id == user_id))
            .values(owner=owner)
        )

    async def contacts_of(self, user_id: UUID) -> list[UUID]:
        mine = select(t.subscription.c.room_id).where(t.subscription.c.user_id == user_id)
        rows = await self._conn.execute(
            select(t.subscription.c.user_id)
            .where(t.subscription.c.room_id.in_(mine))
            .distinct()
            .order_by(t.subscription.c.user_id)
        )
        return [r.user_id for r in rows]


class SqlSettingsRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, user_id: UUID, room_id: UUID) -> RoomUserSettings | None:
        row = (
            await self._conn.execute(
                select(t.room_user_settings).where(
                    and_(
                        t.room_user_settings.c.user_id == user_id,
                        t.room_user_settings.c.room_id == room_id,
                    )
                )
            )
        ).first()
        return _settings(row) if row else None

    async def of_user(
        self, user_id: UUID, room_ids: Sequence[UUID]
    ) -> dict[UUID, RoomUserSettings]:
        if not room_ids:
            return {}
        rows = await self._conn.execute(
            select(t.room_user_settings).where(
                t.room_user_settings.c.user_id == user_id,
                t.room_user_settings.c.room_id.in_(room_ids),
            )
        )
        return {r.room_id: _settings(r) for r in rows}

    async def save(self, settings: RoomUserSettings) -> None:
        await self.save_many([settings])

    async def save_many(self, settings: Sequence[RoomUserSettings]) -> None:
        for item in settings:
            await upsert(
                self._conn,
                t.room_user_settings,
                {
                    "user_id": item.user_id,
                    "room_id": item.room_id,
                    "muted_until": item.muted_until,
                    "cleared_at": item.cleared_at,
                    "rank": item.rank,
                },
                keys=("user_id", "room_id"),
            )

    async def delete(self, user_id: UUID, room_id: UUID) -> None:
        await self._conn.execute(
            delete(t.room_user_settings).where(
                and_(
                    t.room_user_settings.c.user_id == user_id,
                    t.room_user_settings.c.room_id == room_id,
                )
            )
        )

    async def max_workspace_rank(self, user_id: UUID) -> int:
        return (await self.max_workspace_ranks([user_id]))[user_id]

    async def max_workspace_ranks(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        result = dict.fromkeys(user_ids, 0)
        if not user_ids:
            return result
        rows = await self._conn.execute(
            select(t.room_user_settings.c.user_id, func.max(t.room_user_settings.c.rank))
            .join(t.room, t.room.c.id == t.room_user_settings.c.room_id)
            .where(t.room.c.type == RoomType.WORKSPACE.value)
            .where(t.room_user_settings.c.user_id.in_(user_ids))
            .group_by(t.room_user_settings.c.user_id)
        )
        for user_id, rank in rows:
            result[user_id] = int(rank or 0)
        return result

    async def workspace_ranks(self, user_id: UUID) -> dict[UUID, int]:
        rows = await self._conn.execute(
            select(t.room_user_settings.c.room_id, t.room_user_settings.c.rank).where(
                and_(
                    t.room_user_settings.c.user_id == user_id,
                    t.room_user_settings.c.rank.is_not(None),
                )
            )
        )
        return {room_id: rank for room_id, rank in rows}


def _reach_statement() -> Any:
    room = t.room.alias("room")
    workspace = t.room.alias("workspace")
    member = t.subscription
    members_of = case((room.c.type == RoomType.CHANNEL.value, room.c.parent_id), else_=room.c.id)
    return (
        select(
            *t.file_metadata.c,
            type_coerce(room.c.id, String).label("room_found"),
            room.c.type.label("room_type"),
            type_coerce(workspace.c.id, String).label("workspace_found"),
            exists()
            .where(member.c.room_id == members_of)
            .where(member.c.user_id == bindparam("user_id", type_=t.CachedUuid))
            .label("member"),
        )
        .select_from(
            t.file_metadata.outerjoin(room, room.c.id == t.file_metadata.c.room_id).outerjoin(
                workspace, workspace.c.id == room.c.parent_id
            )
        )
        .where(t.file_metadata.c.id == bindparam("file_id", type_=t.CachedUuid))
    )


_REACH = key_lookup(_reach_statement())  # a file by id, its room and workspace by id
_FILE_BY_ID = key_lookup(
    select(t.file_metadata).where(t.file_metadata.c.id == bindparam("file_id", type_=t.CachedUuid))
)


def attachment_page_statement(
    room_id: UUID, limit: int, after: tuple[datetime, UUID] | None
) -> Any:
    """A room's attachments, newest first, `limit` of them after the keyset cursor `after`
    (the last item's created_at and id)."""
    c = t.file_metadata.c
    query = select(t.file_metadata).where(
        and_(c.room_id == room_id, c.type == FileType.ATTACHMENT.value)
    )
    if after is not None:
        # A row value, not `a < x OR (a = x AND b < y)`: both databases seek the index to the
        # cursor with it, where the OR form read every row before it (issue 16).
        query = query.where(tuple_(c.created_at, c.id) < after)
    return query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)


class SqlFileRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def reach(self, file_id: UUID, user_id: UUID) -> FileReach | None:
        result = await self._conn.execute(_REACH, {"file_id": file_id, "user_id": user_id})
        row = result.first()
        if row is None:
            return None
        is_channel = row.room_type == RoomType.CHANNEL.value
        return FileReach(
            file=_file(row),
            room_found=row.room_found is not None,
            workspace_found=not is_channel or row.workspace_found is not None,
            member=bool(row.member),
        )

    async def get(self, file_id: UUID) -> FileMetadata | None:
        row = (await self._conn.execute(_FILE_BY_ID, {"file_id": file_id})).first()
        return _file(row) if row else None

    async def add(self, metadata: FileMetadata) -> None:
        await self._conn.execute(insert(t.file_metadata).values(**_file_values(metadata)))

    async def update(self, metadata: FileMetadata) -> None:
        values = _file_values(metadata)
        del values["id"]
        await self._conn.execute(
            update(t.file_metadata).where(t.file_metadata.c.id == metadata.id).values(**values)
        )

    async def delete(self, file_id: UUID) -> None:
        await self._conn.execute(delete(t.file_metadata).where(t.file_metadata.c.id == file_id))

    async def of_room(self, room_id: UUID, file_type: FileType) -> list[FileMetadata]:
        rows = await self._conn.execute(
            select(t.file_metadata).where(
                and_(
                    t.file_metadata.c.room_id == room_id, t.file_metadata.c.type == file_type.value
                )
            )
        )
        return [_file(r) for r in rows]

    async def user_avatar(self, user_id: UUID) -> FileMetadata | None:
        row = (
            await self._conn.execute(
                select(t.file_metadata).where(
                    and_(
                        t.file_metadata.c.user_id == user_id,
                        t.file_metadata.c.type == FileType.USER_AVATAR.value,
                    )
                )
            )
        ).first()
        return _file(row) if row else None

    async def page(
        self, room_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[FileMetadata]:
        rows = await self._conn.execute(attachment_page_statement(room_id, limit, after))
        return [_file(r) for r in rows]

    async def all_ids(self) -> list[UUID]:
        return list((await self._conn.scalars(select(t.file_metadata.c.id))).all())


def _file_values(metadata: FileMetadata) -> dict[str, Any]:
    return {
        "id": metadata.id,
        "type": metadata.type.value,
        "name": metadata.name,
        "size": metadata.size,
        "mime_type": metadata.mime_type,
        "user_id": metadata.user_id,
        "room_id": metadata.room_id,
        "area": metadata.area,
        "created_at": metadata.created_at,
        "updated_at": metadata.updated_at,
    }


class SqlChatsUserRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, user_id: UUID) -> ChatsUser | None:
        return (await self.get_many([user_id])).get(user_id)

    async def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, ChatsUser]:
        if not user_ids:
            return {}
        rows = await self._conn.execute(select(t.chats_user).where(t.chats_user.c.id.in_(user_ids)))
        return {
            r.id: ChatsUser(
                id=r.id, picture_updated_at=r.picture_updated_at, status_message=r.status_message
            )
            for r in rows
        }

    async def save(self, user: ChatsUser) -> None:
        now = utc_now()
        await upsert(
            self._conn,
            t.chats_user,
            {
                "id": user.id,
                "picture_updated_at": user.picture_updated_at,
                "status_message": user.status_message,
                "created_at": now,
                "updated_at": now,
            },
            keys=("id",),
            keep=("created_at",),
        )


class SqlMeetingRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, meeting_id: UUID) -> Meeting | None:
        found = await self._load(t.meeting.c.id == meeting_id)
        return found[0] if found else None

    async def of_room(self, room_id: UUID) -> Meeting | None:
        found = await self._load(t.meeting.c.room_id == room_id)
        return found[0] if found else None

    async def of_rooms(self, room_ids: Sequence[UUID]) -> list[Meeting]:
        if not room_ids:
            return []
        return await self._load(t.meeting.c.room_id.in_(room_ids))

    async def _load(self, condition: Any) -> list[Meeting]:
        rows = (
            await self._conn.execute(
                select(t.meeting).where(condition).order_by(t.meeting.c.created_at)
            )
        ).all()
        meetings = {
            r.id: Meeting(
                id=r.id,
                room_id=r.room_id,
                name=r.name,
                type=MeetingType(r.meeting_type),
                created_at=r.created_at,
                active=r.active,
                started_at=r.started_at,
            )
            for r in rows
        }
        if meetings:
            participants = await self._conn.execute(
                select(t.participant)
                .where(t.participant.c.meeting_id.in_(list(meetings)))
                .order_by(t.participant.c.joined_at)
            )
            for p in participants:
                meetings[p.meeting_id].participants.append(
                    Participant(
                        meeting_id=p.meeting_id,
                        user_id=p.user_id,
                        queue_id=p.queue_id,
                        joined_at=p.joined_at,
                        audio=p.audio_stream_on,
                        video=p.video_stream_on,
                        screen=p.screen_stream_on,
                    )
                )
        return list(meetings.values())

    async def add(self, meeting: Meeting) -> None:
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(
                    insert(t.meeting).values(
                        id=meeting.id,
                        room_id=meeting.room_id,
                        name=meeting.name,
                        meeting_type=meeting.type.value,
                        active=meeting.active,
                        started_at=meeting.started_at,
                        created_at=meeting.created_at,
                    )
                )
        except IntegrityError as exc:
            raise Conflict("The room already has a meeting") from exc

    async def delete(self, meeting_id: UUID) -> None:
        await self._conn.execute(delete(t.meeting).where(t.meeting.c.id == meeting_id))


class SqlOutbox:
    """Records XMPP commands; `enabled=False` when no XMPP server is configured."""

    def __init__(self, conn: Statements, enabled: bool) -> None:
        self._conn = conn
        self._enabled = enabled
        self.recorded = 0

    async def add(self, command: MessagingCommand) -> None:
        if not self._enabled:
            return
        now = utc_now()
        kind, payload = encode_command(command)
        await self._conn.execute(
            insert(t.outbox).values(
                room_key=str(command.room_id) if command.room_id else "",
                kind=kind,
                payload=payload,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        self.recorded += 1
