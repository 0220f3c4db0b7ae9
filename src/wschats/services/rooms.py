"""Room use cases: list, create, read, update, delete, mute, clear, ranks (behaviour.md, Rooms)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from wschats.domain.errors import BadRequest, Conflict, Forbidden, NotFound
from wschats.domain.events import (
    RoomCreated,
    RoomHistoryCleared,
    RoomMuted,
    RoomUnmuted,
    RoomUpdated,
)
from wschats.domain.messaging import (
    AddContacts,
    CreateRoom,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomRetitled,
)
from wschats.domain.model import (
    MUTED_FOREVER,
    Capabilities,
    ListedRoom,
    Principal,
    Room,
    RoomType,
    RoomUserSettings,
    Subscription,
)
from wschats.domain.views import RoomView, listed_view, room_view
from wschats.ports import (
    BlobStore,
    Clock,
    Database,
    EventDispatcher,
    IdentityService,
    Repositories,
)
from wschats.services.common import delete_room_cascade, load_access
from wschats.services.identity_memo import IdentityMemo
from wschats.services.writes import Writes


@dataclass(frozen=True)
class NewRoom:
    type: RoomType
    name: str | None = None
    description: str | None = None
    parent_id: UUID | None = None
    member_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class RoomChanges:
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class RankEntry:
    room_id: UUID
    rank: int


class RoomService:
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

    # ---------------------------------------------------------------- reads

    async def list_rooms(
        self, caller: Principal, *, with_members: bool, with_settings: bool
    ) -> list[RoomView]:
        """Every room of the caller but channels, which appear under their workspace.

        A constant number of queries whatever the number of rooms (DECISIONS.md#rooms).
        """
        # No snapshot needed: the channels and their settings are read after the rooms, and a
        # change in between shows as it would in the next listing.
        async with self._db.reads() as uow:
            listed = await uow.rooms.listing_for_user(caller.user_id, with_members=with_members)
            workspaces = [item for item in listed if item.room.type is RoomType.WORKSPACE]
            children = await uow.rooms.children_of([item.room.id for item in workspaces])
            settings = {item.room.id: item.settings for item in workspaces if item.settings}
            channel_ids = [channel.id for channels in children.values() for channel in channels]
            if with_settings and channel_ids:
                settings.update(await uow.settings.of_user(caller.user_id, channel_ids))
        views = []
        for item in listed:
            if item.room.type is not RoomType.WORKSPACE:
                views.append(_listed_view(item, with_settings))
                continue
            view = room_view(
                item.room,
                members=item.members,
                settings=settings,
                children=children.get(item.room.id),
            )
            if not with_settings:
                _drop_settings(view)
            views.append(view)
        return views

    async def get_room(self, caller: Principal, room_id: UUID) -> RoomView:
        async with self._db.unit_of_work() as uow:
            access = await load_access(uow, room_id, caller.user_id)
            room = access.room
            children = (
                (await uow.rooms.children_of([room.id]))[room.id]
                if room.type is RoomType.WORKSPACE
                else []
            )
            settings = await uow.settings.of_user(
                caller.user_id, [room.id, *[c.id for c in children]]
            )
        return room_view(room, members=access.members, settings=settings, children=children)

    # ---------------------------------------------------------------- create

    async def create_room(self, caller: Principal, new: NewRoom) -> RoomView:
        self._validate_creation(caller, new)
        # The checks that read, in the original's order; then the identity service is asked
        # with no connection held (it may be the same database, or a remote service).
        async with self._db.unit_of_work() as uow:
            await self._check_creation(uow, caller, new)
        await self._check_users_exist(caller, new.member_ids)
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            # Again, under the write lock: the state may have changed meanwhile.
            parent = await self._check_creation(tx, caller, new)

            one_to_one = new.type is RoomType.ONE_TO_ONE
            room = Room(
                id=uuid.uuid4(),
                type=new.type,
                # One-to-ones have no name or description of their own (DECISIONS.md#rooms).
                name=None if one_to_one else new.name,
                description=None if one_to_one else new.description,
                created_at=now,
                updated_at=now,
                parent_id=new.parent_id if parent else None,
            )
            if parent is not None:
                await tx.lock_room(parent.id)
                room.rank = await tx.rooms.max_channel_rank(parent.id) + 1
            await tx.rooms.add(
                room, one_to_one_pair=(caller.user_id, new.member_ids[0]) if one_to_one else None
            )

            members: list[Subscription] = []
            if parent is None:
                # The creator comes last, as in the original.
                users = [*new.member_ids, caller.user_id]
                members = [
                    Subscription(
                        room_id=room.id,
                        user_id=user,
                        owner=one_to_one or user == caller.user_id,
                        joined_at=now,
                        ordinal=index,
                    )
                    for index, user in enumerate(users)
                ]
                await tx.members.add_many(members)
            else:
                members = await tx.members.of_room(parent.id)

            caller_settings: dict[UUID, RoomUserSettings] = {}
            if room.type is RoomType.WORKSPACE:
                user_ids = [m.user_id for m in members]
                for user in sorted(user_ids):
                    await tx.lock_user(user)
                top = await tx.settings.max_workspace_ranks(user_ids)
                rows = [
                    RoomUserSettings(user_id=u, room_id=room.id, rank=top[u] + 1) for u in user_ids
                ]
                await tx.settings.save_many(rows)
                caller_settings = {room.id: next(r for r in rows if r.user_id == caller.user_id)}

            member_ids = [m.user_id for m in members]
            if room.type is not RoomType.WORKSPACE:
                await tx.outbox.add(
                    CreateRoom(
                        room_id=room.id,
                        owner_id=caller.user_id,
                        member_ids=tuple(u for u in member_ids if u != caller.user_id),
                    )
                )
            if one_to_one:
                await tx.outbox.add(
                    AddContacts(room_id=room.id, user_a=member_ids[0], user_b=member_ids[1])
                )
            tx.notify(RoomCreated(sent_date=now, room_id=room.id), member_ids)
        return room_view(room, members=members, settings=caller_settings, children=[])

    async def _check_creation(
        self, uow: Repositories, caller: Principal, new: NewRoom
    ) -> Room | None:
        """409 for an existing one-to-one pair; a channel's workspace and its owner. Returns
        the workspace of a new channel."""
        if new.type is RoomType.ONE_TO_ONE and await uow.rooms.find_one_to_one(
            caller.user_id, new.member_ids[0]
        ):
            raise Conflict("A one-to-one room already exists for these users")
        if new.type is not RoomType.CHANNEL:
            return None
        assert new.parent_id is not None
        access = await load_access(uow, new.parent_id, caller.user_id, as_owner=True)
        if access.room.type is not RoomType.WORKSPACE:
            raise BadRequest("The parent of a channel must be a workspace")
        return access.room

    def _validate_creation(self, caller: Principal, new: NewRoom) -> None:
        """The request-level rules, in the original's order (behaviour.md#create-room)."""
        if new.type in (RoomType.GROUP, RoomType.TEMPORARY) and not new.name:
            raise BadRequest(f"A {new.type.value} room needs a name")
        if len(set(new.member_ids)) != len(new.member_ids):
            raise BadRequest("membersIds contains duplicates")
        if caller.user_id in new.member_ids:
            raise BadRequest("membersIds must not contain the requester")
        if new.parent_id is not None and new.type is not RoomType.CHANNEL:
            raise BadRequest("Only a channel can have a parentId")
        count = len(new.member_ids)
        limit = self._capabilities.max_group_members
        if new.type is RoomType.ONE_TO_ONE and count != 1:
            raise BadRequest("A one-to-one room needs exactly one other member")
        if new.type in (RoomType.GROUP, RoomType.WORKSPACE):
            if count < 2:
                raise BadRequest(f"A {new.type.value} needs at least 3 members, creator included")
            if count + 1 > limit:
                raise BadRequest(f"A {new.type.value} can have at most {limit} members")
        if new.type is RoomType.CHANNEL:
            if count:
                raise BadRequest("A channel has no members of its own")
            if new.parent_id is None:
                raise BadRequest("A channel needs a parentId")

    async def _check_users_exist(self, caller: Principal, user_ids: Sequence[UUID]) -> None:
        if not user_ids:
            return
        found = {
            u.id
            for u in await self._identity.get_users([str(u) for u in user_ids], token=caller.token)
        }
        for user_id in user_ids:
            if user_id not in found:
                raise NotFound(f"User {user_id} not found")

    # ---------------------------------------------------------------- update / delete

    async def update_room(self, caller: Principal, room_id: UUID, changes: RoomChanges) -> RoomView:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            access = await load_access(tx, room_id, caller.user_id)
            room = access.room
            if room.type is RoomType.ONE_TO_ONE:
                raise BadRequest("A one-to-one room cannot be updated")
            if room.type is RoomType.GROUP and changes.name is None and changes.description is None:
                raise BadRequest("Nothing to update")
            await load_access(tx, room_id, caller.user_id, as_owner=True)
            messaging = room.type is not RoomType.WORKSPACE
            changed = False
            if changes.name is not None and changes.name != room.name:
                room.name = changes.name
                changed = True
                if messaging:
                    await tx.outbox.add(
                        RoomNameChanged(room_id=room.id, sender_id=caller.user_id, name=room.name)
                    )
                else:
                    # Channels are titled with their workspace's name on the chat server.
                    for child in (await tx.rooms.children_of([room.id]))[room.id]:
                        await tx.outbox.add(RoomRetitled(room_id=child.id))
            if changes.description is not None and changes.description != room.description:
                room.description = changes.description
                changed = True
                if messaging:
                    await tx.outbox.add(
                        RoomDescriptionChanged(
                            room_id=room.id, sender_id=caller.user_id, description=room.description
                        )
                    )
            if changed:
                room.updated_at = now
                await tx.rooms.update(room)
                tx.notify(
                    RoomUpdated(
                        sent_date=now,
                        room_id=room.id,
                        name=room.name,
                        description=room.description,
                    ),
                    access.member_ids,
                )
            children = (
                (await tx.rooms.children_of([room.id]))[room.id]
                if room.type is RoomType.WORKSPACE
                else []
            )
            settings = await tx.settings.of_user(caller.user_id, [room.id])
        view = room_view(room, members=None, settings=settings, children=children)
        _drop_settings(view)
        return view

    async def delete_room(self, caller: Principal, room_id: UUID) -> None:
        async with self._writes.transaction() as tx:
            access = await load_access(tx, room_id, caller.user_id)
            if access.room.type is RoomType.ONE_TO_ONE:
                raise Forbidden("A one-to-one room cannot be deleted")
            access = await load_access(tx, room_id, caller.user_id, as_owner=True)
            await delete_room_cascade(
                tx,
                access.room,
                caller_id=caller.user_id,
                recipients=access.member_ids,
                clock=self._clock,
            )

    # ---------------------------------------------------------------- per-user settings

    async def mute(self, caller: Principal, room_id: UUID, *, muted: bool) -> None:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            access = await load_access(tx, room_id, caller.user_id)
            if access.room.type is RoomType.WORKSPACE:
                raise BadRequest(f"Cannot {'mute' if muted else 'unmute'} a workspace")
            # The caller's settings row is read, changed and written whole: one writer at a time.
            await tx.lock_user(caller.user_id)
            settings = await tx.settings.get(caller.user_id, room_id)
            if muted and (settings is None or not settings.muted):
                settings = settings or RoomUserSettings(user_id=caller.user_id, room_id=room_id)
                settings.muted_until = MUTED_FOREVER
                await tx.settings.save(settings)
                tx.notify(RoomMuted(sent_date=now, room_id=room_id), [caller.user_id])
            elif not muted and settings is not None and settings.muted:
                settings.muted_until = None
                await tx.settings.save(settings)
                tx.notify(RoomUnmuted(sent_date=now, room_id=room_id), [caller.user_id])

    async def clear_history(self, caller: Principal, room_id: UUID) -> datetime:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await load_access(tx, room_id, caller.user_id)
            await tx.lock_user(caller.user_id)
            settings = await tx.settings.get(caller.user_id, room_id) or RoomUserSettings(
                user_id=caller.user_id, room_id=room_id
            )
            settings.cleared_at = now
            await tx.settings.save(settings)
            tx.notify(
                RoomHistoryCleared(sent_date=now, room_id=room_id, cleared_at=now), [caller.user_id]
            )
        return now

    # ---------------------------------------------------------------- ranks

    async def rank_workspaces(self, caller: Principal, ranks: Sequence[RankEntry]) -> None:
        ids = [r.room_id for r in ranks]
        if len(set(ids)) != len(ids):
            raise BadRequest("Duplicate roomId in ranks")
        _check_permutation(ranks)
        async with self._writes.transaction() as tx:
            await tx.lock_user(caller.user_id)
            current = await tx.settings.workspace_ranks(caller.user_id)
            if len(current) != len(ranks):
                raise BadRequest(
                    f"Expected {len(current)} workspaces, got {len(ranks)}"
                    " (every workspace of the user must be ranked)"
                )
            for entry in ranks:
                if entry.room_id not in current:
                    raise BadRequest(f"Room {entry.room_id} is not one of the user's workspaces")
            rows = await tx.settings.of_user(caller.user_id, ids)
            for entry in ranks:
                rows[entry.room_id].rank = entry.rank
            await tx.settings.save_many(list(rows.values()))

    async def rank_channels(
        self, caller: Principal, workspace_id: UUID, ranks: Sequence[RankEntry]
    ) -> None:
        _check_permutation(ranks)
        ids = [r.room_id for r in ranks]
        if len(set(ids)) != len(ids):
            raise BadRequest("Duplicate roomId in ranks")
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await load_access(tx, workspace_id, caller.user_id, as_owner=True)
            await tx.lock_room(workspace_id)
            children = (await tx.rooms.children_of([workspace_id]))[workspace_id]
            if len(children) != len(ranks):
                raise BadRequest(f"Expected {len(children)} channels, got {len(ranks)}")
            wanted = {r.room_id: r.rank for r in ranks}
            for child in children:
                if child.id not in wanted:
                    raise BadRequest(f"Channel {child.id} of the workspace is missing")
            for child in children:
                child.rank = wanted[child.id]
                child.updated_at = now
                await tx.rooms.update(child)


def _check_permutation(ranks: Sequence[RankEntry]) -> None:
    if sorted(r.rank for r in ranks) != list(range(1, len(ranks) + 1)):
        raise BadRequest("Ranks must be exactly 1..n")


# Views of listed rooms other than workspaces, by the ListedRoom they show: the listing hands
# out the same ListedRoom while a room's row is unchanged, and building the view anew cost as
# much as finding it. Nothing changes these views (the HTTP layer reuses their JSON).
_listed_views: IdentityMemo[ListedRoom, RoomView] = IdentityMemo(5_000)


def _view_with_settings(item: ListedRoom) -> RoomView:
    return listed_view(item, with_settings=True)


def _view_without_settings(item: ListedRoom) -> RoomView:
    return listed_view(item, with_settings=False)


def _listed_view(item: ListedRoom, with_settings: bool) -> RoomView:
    derive = _view_with_settings if with_settings else _view_without_settings
    return _listed_views.get(item, derive, with_settings)


def _drop_settings(view: RoomView) -> None:
    view.include_settings = False
    view.settings = None
    for child in view.children or []:
        _drop_settings(child)
