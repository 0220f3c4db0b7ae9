"""File metadata (`SqlFileRepository`): attachments and pictures, their reach and pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    insert,
    select,
    tuple_,
    type_coerce,
    update,
)

from wschats.adapters.db import tables as t
from wschats.adapters.db.engine import key_lookup
from wschats.adapters.db.statements import Statements
from wschats.domain.model import FileMetadata, FileReach, FileType, RoomType


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

    async def existing_ids(self, ids: Sequence[UUID]) -> set[UUID]:
        if not ids:
            return set()
        c = t.file_metadata.c
        return set((await self._conn.scalars(select(c.id).where(c.id.in_(ids)))).all())

    async def ids_after(self, after: UUID | None, limit: int) -> list[UUID]:
        c = t.file_metadata.c
        query = select(c.id)
        if after is not None:
            query = query.where(c.id > after)
        return list((await self._conn.scalars(query.order_by(c.id).limit(limit))).all())


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
