"""Member use cases: list, add, remove (kick or leave), promote, demote (behaviour.md, Members)."""

from __future__ import annotations

from uuid import UUID

from wschats.domain.errors import BadRequest, Forbidden, NotFound
from wschats.domain.events import (
    RoomMemberAdded,
    RoomMemberRemoved,
    RoomOwnerDemoted,
    RoomOwnerPromoted,
)
from wschats.domain.messaging import AddRoomMember, RemoveRoomMember
from wschats.domain.model import (
    Capabilities,
    Principal,
    RoomType,
    RoomUserSettings,
    Subscription,
)
from wschats.domain.views import MemberView
from wschats.ports import BlobStore, Clock, Database, EventDispatcher, IdentityService
from wschats.services.common import delete_room_cascade, load_access
from wschats.services.writes import Writes

_NO_MEMBERS_OF_THEIR_OWN = (RoomType.ONE_TO_ONE, RoomType.CHANNEL)


class MemberService:
    def __init__(
        self,
        database: Database,
        identity: IdentityService,
        events: EventDispatcher,
        blobs: BlobStore,
        capabilities: Capabilities,
        clock: Clock,
    ) -> None:
        self._db = database
        self._identity = identity
        self._writes = Writes(database, blobs, events)
        self._capabilities = capabilities
        self._clock = clock

    async def list_members(self, caller: Principal, room_id: UUID) -> list[MemberView]:
        async with self._db.unit_of_work() as uow:
            access = await load_access(uow, room_id, caller.user_id)
        return [MemberView(user_id=m.user_id, owner=m.owner) for m in access.members]

    async def add_member(
        self,
        caller: Principal,
        room_id: UUID,
        user_id: UUID,
        *,
        owner: bool,
        history_cleared: bool,
    ) -> MemberView:
        if await self._identity.get_user(user_id, token=caller.token) is None:
            raise NotFound(f"User {user_id} not found")
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await tx.lock_room(room_id)
            access = await load_access(tx, room_id, caller.user_id, as_owner=True)
            room = access.room
            if room.type in _NO_MEMBERS_OF_THEIR_OWN:
                raise BadRequest(f"Cannot add members to a {room.type.value} room")
            limit = self._capabilities.max_group_members
            if room.type is RoomType.GROUP and len(access.members) >= limit:
                raise BadRequest(f"Cannot add more members: a group has at most {limit}")
            if user_id in access.member_ids:
                raise BadRequest(f"User {user_id} is already a member")
            await tx.members.add(
                Subscription(
                    room_id=room.id,
                    user_id=user_id,
                    owner=owner,
                    joined_at=now,
                    ordinal=max((m.ordinal for m in access.members), default=-1) + 1,
                )
            )
            cleared_at = None
            if history_cleared or room.type is RoomType.WORKSPACE:
                await tx.lock_user(user_id)  # their settings row and workspace ranks
                settings = await tx.settings.get(user_id, room.id) or RoomUserSettings(
                    user_id=user_id, room_id=room.id
                )
                if history_cleared:
                    settings.cleared_at = cleared_at = now
                if room.type is RoomType.WORKSPACE:
                    settings.rank = await tx.settings.max_workspace_rank(user_id) + 1
                await tx.settings.save(settings)
            if room.type is RoomType.WORKSPACE:
                for child in (await tx.rooms.children_of([room.id]))[room.id]:
                    await tx.outbox.add(
                        AddRoomMember(room_id=child.id, sender_id=caller.user_id, user_id=user_id)
                    )
            else:
                await tx.outbox.add(
                    AddRoomMember(room_id=room.id, sender_id=caller.user_id, user_id=user_id)
                )
            tx.notify(
                RoomMemberAdded(sent_date=now, room_id=room.id, user_id=user_id, is_owner=owner),
                [*access.member_ids, user_id],
            )
        return MemberView(user_id=user_id, owner=owner, cleared_at=cleared_at)

    async def remove_member(self, caller: Principal, room_id: UUID, user_id: UUID) -> None:
        kick = user_id != caller.user_id
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await tx.lock_room(room_id)
            access = await load_access(tx, room_id, caller.user_id, as_owner=kick)
            room = access.room
            if room.type in _NO_MEMBERS_OF_THEIR_OWN:
                raise BadRequest(f"Cannot remove members from a {room.type.value} room")
            target = next((m for m in access.members if m.user_id == user_id), None)
            if target is None:
                raise NotFound(f"User {user_id} is not a member of room {room_id}")
            owners = [m for m in access.members if m.owner]
            if len(owners) == 1 and owners[0].user_id == user_id and len(access.members) > 1:
                raise BadRequest("The last owner cannot leave the room")
            await tx.members.remove(room.id, user_id)
            if room.type is RoomType.WORKSPACE:
                await tx.settings.delete(user_id, room.id)
                for child in (await tx.rooms.children_of([room.id]))[room.id]:
                    await tx.outbox.add(
                        RemoveRoomMember(
                            room_id=child.id,
                            sender_id=caller.user_id,
                            user_id=user_id,
                            actor_id=caller.user_id,
                        )
                    )
            else:
                # The original sends memberRemoved from the first owner, even on a leave.
                await tx.outbox.add(
                    RemoveRoomMember(
                        room_id=room.id,
                        sender_id=owners[0].user_id,
                        user_id=user_id,
                        actor_id=caller.user_id,
                    )
                )
            tx.notify(
                RoomMemberRemoved(sent_date=now, room_id=room.id, user_id=user_id),
                access.member_ids,
            )
            if len(access.members) == 1:
                await delete_room_cascade(
                    tx,
                    room,
                    caller_id=caller.user_id,
                    recipients=access.member_ids,
                    clock=self._clock,
                )

    async def set_owner(
        self, caller: Principal, room_id: UUID, user_id: UUID, *, owner: bool
    ) -> None:
        if user_id == caller.user_id:
            raise BadRequest("Cannot set owner privileges for oneself")
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            access = await load_access(tx, room_id, caller.user_id, as_owner=True)
            if access.room.type in _NO_MEMBERS_OF_THEIR_OWN:
                raise BadRequest(f"Cannot change owners of a {access.room.type.value} room")
            if user_id not in access.member_ids:
                raise Forbidden(f"User {user_id} is not a member of room {room_id}")
            await tx.members.set_owner(room_id, user_id, owner)
            event_type = RoomOwnerPromoted if owner else RoomOwnerDemoted
            tx.notify(
                event_type(sent_date=now, room_id=room_id, user_id=user_id), access.member_ids
            )
