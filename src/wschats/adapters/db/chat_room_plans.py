"""What each room's XMPP counterpart should be, read from the rooms and their members
(for services/xmpp_rooms.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import aliased

from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.domain.model import RoomType
from wschats.ports import ChatRoomPlan, MemberRoom

_WITH_XMPP_ROOM = [kind.value for kind in RoomType if kind is not RoomType.WORKSPACE]


class SqlChatRoomPlans:
    def __init__(self, database: SqlDatabase) -> None:
        self._db = database

    async def plan(self, room_id: UUID) -> ChatRoomPlan | None:
        plans = await self._plans(t.room.c.id == room_id)
        return plans[0] if plans else None

    async def room_ids(self) -> list[UUID]:
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(t.room.c.id).where(t.room.c.type.in_(_WITH_XMPP_ROOM)).order_by(t.room.c.id)
            )
            return [r.id for r in rows]

    async def rooms_of_member(self, user_id: UUID) -> list[MemberRoom]:
        """Without the members of big rooms: only a one-to-one's other member is read."""
        workspace = aliased(t.room)
        own = aliased(t.subscription)
        other = aliased(t.subscription)
        workspace_member = aliased(t.subscription)
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(
                    t.room.c.id,
                    t.room.c.name,
                    t.room.c.parent_id,
                    workspace.c.name.label("workspace_name"),
                    other.c.user_id.label("other_id"),
                )
                .outerjoin(workspace, workspace.c.id == t.room.c.parent_id)
                .outerjoin(own, (own.c.room_id == t.room.c.id) & (own.c.user_id == user_id))
                .outerjoin(
                    workspace_member,
                    (workspace_member.c.room_id == workspace.c.id)
                    & (workspace_member.c.user_id == user_id),
                )
                .outerjoin(
                    other,
                    (other.c.room_id == t.room.c.id)
                    & (other.c.user_id != user_id)
                    & (t.room.c.type == RoomType.ONE_TO_ONE.value),
                )
                .where(
                    t.room.c.type.in_(_WITH_XMPP_ROOM),
                    own.c.user_id.is_not(None) | workspace_member.c.user_id.is_not(None),
                )
                .order_by(t.room.c.created_at, t.room.c.id)
            )
            return [
                MemberRoom(
                    room_id=r.id,
                    name=r.name,
                    workspace_name=r.workspace_name if r.parent_id is not None else None,
                    other_id=r.other_id,
                )
                for r in rows
            ]

    async def _plans(self, where: Any) -> list[ChatRoomPlan]:
        workspace = aliased(t.room)
        async with self._db.unit_of_work() as uow:
            rooms = list(
                await uow.connection.execute(
                    select(
                        t.room.c.id,
                        t.room.c.type,
                        t.room.c.name,
                        t.room.c.description,
                        t.room.c.parent_id,
                        workspace.c.name.label("workspace_name"),
                    )
                    .outerjoin(workspace, workspace.c.id == t.room.c.parent_id)
                    .where(where, t.room.c.type.in_(_WITH_XMPP_ROOM))
                    .order_by(t.room.c.created_at, t.room.c.id)
                )
            )
            if not rooms:
                return []
            member_source = {r.id: r.parent_id or r.id for r in rooms}
            rows = await uow.connection.execute(
                select(t.subscription)
                .where(t.subscription.c.room_id.in_(set(member_source.values())))
                .order_by(t.subscription.c.ordinal, t.subscription.c.user_id)
            )
            members: dict[UUID, list[Any]] = defaultdict(list)
            for row in rows:
                members[row.room_id].append(row)
        return [_plan(r, members[member_source[r.id]]) for r in rooms]


def _plan(room: Any, members: Sequence[Any]) -> ChatRoomPlan:
    return ChatRoomPlan(
        room_id=room.id,
        one_to_one=room.type == RoomType.ONE_TO_ONE.value,
        name=room.name,
        description=room.description,
        workspace_name=room.workspace_name if room.parent_id is not None else None,
        owner_ids=tuple(m.user_id for m in members if m.owner),
        member_ids=tuple(m.user_id for m in members),
    )
