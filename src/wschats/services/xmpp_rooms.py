"""The chat server's rooms kept as wschats' database says (docs/xmpp-rooms.md).

`RoomSync` compares one room (or all) on the chat server with the database and makes the
server match: the room itself, its title and description, affiliations, subscriptions, the
members' bookmarks and, for one-to-ones, the pair's roster entries. It reports what it changed.

`ReconcilingDelivery` is the message dispatcher the outbox relay uses for such a server: before
a command goes into a room it checks (one call) that the server has the room and that the
sender is subscribed; when not (the server was wiped or restored from an old backup) it
reconciles the room first, so the command is delivered instead of being silently dropped.
After a command it keeps titles and bookmarks current: membership at once, bookmark names
shortly after a rename (a burst of renames rewrites each member's bookmarks once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable
from uuid import UUID

from wschats.domain import system_texts
from wschats.domain.errors import DependencyFailed
from wschats.domain.messaging import (
    AddContacts,
    AddRoomMember,
    AttachmentAdded,
    CreateRoom,
    DeleteRoom,
    ForwardMessage,
    MessagingCommand,
    RemoveRoomMember,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
    RoomRetitled,
)
from wschats.ports import (
    Bookmark,
    ChatRoomPlan,
    ChatRoomPlans,
    ChatRooms,
    ChatRoomState,
    UserNames,
)

log = logging.getLogger(__name__)

# A burst of renames rewrites each member's bookmarks once, this long after the first one.
BOOKMARK_NAMES_DELAY_SECONDS = 0.5
BOOKMARK_NAMES_RETRY_SECONDS = 5.0

_EMPTY = ChatRoomState(title="", description="", affiliations={}, subscribers=frozenset())


class RoomSync:
    def __init__(self, plans: ChatRoomPlans, rooms: ChatRooms, names: UserNames) -> None:
        self._plans = plans
        self._rooms = rooms
        self._names = names
        # Bookmarks are written as a whole list per user: one read-and-write at a time per
        # user, so a list read earlier never overwrites a newer one (rooms are delivered in
        # parallel). Across processes the next change or a resync puts a rare loser right.
        self._bookmark_locks: dict[UUID, asyncio.Lock] = {}

    async def reconcile(self, room_id: UUID, *, bookmarks: bool = True) -> list[str]:
        """Make the server's room match the database; the changes made, as lines of text.

        A room the server has but the database does not is reported, never destroyed: its
        archive may be all that is left of it (a database restored from an old backup).
        """
        plan = await self._plans.plan(room_id)
        state = await self._rooms.state(room_id)
        if plan is None:
            return [] if state is None else ["on the chat server only: left as it is"]
        changes: list[str] = []
        title, description = await self.appearance(plan)
        if state is None:
            await self._rooms.create(room_id, title, description)
            changes.append("created")
            state = _EMPTY
        else:
            if state.title != title:
                await self._rooms.set_appearance(room_id, title=title)
                changes.append(f"title “{title}”")
            if state.description != description:
                await self._rooms.set_appearance(room_id, description=description)
                changes.append(f"description “{description}”")
        owners = set(plan.owner_ids)
        for user_id in plan.member_ids:
            wanted = "owner" if user_id in owners else "member"
            if state.affiliations.get(user_id) != wanted:
                await self._rooms.set_affiliation(room_id, user_id, wanted)
                changes.append(f"{user_id} made {wanted}")
            if user_id not in state.subscribers:
                await self._rooms.subscribe(room_id, user_id)
                changes.append(f"{user_id} subscribed")
        former = (set(state.affiliations) | state.subscribers) - set(plan.member_ids)
        for user_id in sorted(former):
            await self._rooms.unsubscribe(room_id, user_id)
            await self._rooms.set_affiliation(room_id, user_id, "none")
            changes.append(f"{user_id} removed")
        if plan.one_to_one:
            changes += await self._contacts(plan)
        if bookmarks:
            for user_id, lines in (await self.sync_bookmarks([*plan.member_ids, *former])).items():
                changes += [f"{user_id}: {line}" for line in lines]
        return changes

    async def reconcile_all(self) -> dict[UUID, list[str]]:
        """Every room, then every member's bookmarks once; only rooms with changes are listed."""
        report: dict[UUID, list[str]] = {}
        users: set[UUID] = set()
        database_rooms = await self._plans.room_ids()
        for room_id in database_rooms:
            changes = await self.reconcile(room_id, bookmarks=False)
            if changes:
                report[room_id] = changes
            plan = await self._plans.plan(room_id)
            users.update(plan.member_ids if plan else ())
        for room_id in set(await self._rooms.room_ids()) - set(database_rooms):
            report[room_id] = ["on the chat server only: left as it is"]
            state = await self._rooms.state(room_id)
            users.update(state.subscribers if state else ())
        for user_id, lines in (await self.sync_bookmarks(users)).items():
            report.setdefault(user_id, []).extend(f"bookmarks: {line}" for line in lines)
        return report

    async def sync_bookmarks(self, user_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
        """Each user's bookmarks name exactly the rooms they belong to, with their titles."""
        report: dict[UUID, list[str]] = {}
        for user_id in sorted(set(user_ids)):
            # One small lock per user seen, kept for the life of the process.
            async with self._bookmark_locks.setdefault(user_id, asyncio.Lock()):
                lines = await self._sync_user_bookmarks(user_id)
            if lines:
                report[user_id] = lines
        return report

    async def _sync_user_bookmarks(self, user_id: UUID) -> list[str]:
        rooms = await self._plans.rooms_of_member(user_id)
        names = await self._names.names({r.other_id for r in rooms if r.other_id is not None})
        wanted = [
            Bookmark(
                r.room_id,
                system_texts.name_of(names, r.other_id)
                if r.other_id is not None
                else system_texts.room_title(r.name, r.workspace_name),
            )
            for r in rooms
        ]
        current = await self._rooms.bookmarks(user_id)
        if sorted(current, key=_key) == sorted(wanted, key=_key):
            return []
        await self._rooms.set_bookmarks(user_id, wanted)
        had = {b.room_id for b in current}
        has = {b.room_id for b in wanted}
        lines = [f"bookmark added for {r}" for r in sorted(has - had)]
        lines += [f"bookmark removed for {r}" for r in sorted(had - has)]
        return lines or ["bookmark names updated"]

    async def refresh_appearance(
        self, room_id: UUID, *, title: bool = True, description: bool = True
    ) -> None:
        """Sets the room's title and/or description as the database has them now."""
        plan = await self._plans.plan(room_id)
        if plan is None:
            return  # deleted since: its DeleteRoom follows
        new_title, new_description = await self.appearance(plan)
        await self._rooms.set_appearance(
            room_id,
            title=new_title if title else None,
            description=new_description if description else None,
        )

    async def appearance(self, plan: ChatRoomPlan) -> tuple[str, str]:
        """(title, description) of the room on the server. A one-to-one is titled with both
        names; each member's roster and bookmark show the other person's name instead."""
        if plan.one_to_one:
            names = await self._names.names(plan.member_ids)
            title = " & ".join(system_texts.name_of(names, u) for u in plan.member_ids)
            return title, ""
        return system_texts.room_title(plan.name, plan.workspace_name), plan.description or ""

    async def _contacts(self, plan: ChatRoomPlan) -> list[str]:
        if len(plan.member_ids) != 2:
            return []
        names = await self._names.names(plan.member_ids)
        changes = []
        for user_id, other_id in (plan.member_ids, plan.member_ids[::-1]):
            wanted = names.get(other_id, "")
            if await self._rooms.contact_name(user_id, other_id) != wanted:
                await self._rooms.set_contact(user_id, other_id, wanted)
                changes.append(f"{user_id}: contact {other_id} named “{wanted}”")
        return changes


def _key(bookmark: Bookmark) -> tuple[str, str]:
    return str(bookmark.room_id), bookmark.name


class ReconcilingDelivery:
    """`MessageDispatcher` over `ChatRooms`: delivers, re-creating lost rooms first."""

    def __init__(self, rooms: ChatRooms, sync: RoomSync, names: UserNames) -> None:
        self._rooms = rooms
        self._sync = sync
        self._names = names
        self._stale_names: set[UUID] = set()
        self._refresher: asyncio.Task[None] | None = None
        # Rooms this process reconciled. Their queued membership commands find the members
        # already (un)subscribed, so they announce anyway; the cost is a second announcement
        # should one of them be delivered twice after a crash.
        self._reconciled: set[UUID] = set()

    async def deliver(self, command: MessagingCommand) -> None:
        match command:
            case AddContacts():
                names = await self._names.names([command.user_a, command.user_b])
                await self._rooms.deliver(command, names=names)
            case DeleteRoom():
                subscribed = await self._rooms.subscribers(command.room_id)
                await self._rooms.deliver(command)
                await self._sync.sync_bookmarks(subscribed or ())
            case CreateRoom():
                await self._rooms.deliver(command, names=await self._names_in(command))
                # Title, description, and any member added since the command was recorded.
                await self._sync.reconcile(command.room_id)
            case RoomRetitled():
                members = await self._ensure_room(command.room_id)
                if members:
                    await self._sync.refresh_appearance(command.room_id, description=False)
                    self._refresh_names_later(members)
            case _:
                await self._deliver_into_room(command)

    async def _deliver_into_room(self, command: MessagingCommand) -> None:
        assert command.room_id is not None
        room_id = command.room_id
        sender = _sender(command)
        subscribers = await self._rooms.subscribers(room_id)
        if subscribers is None or sender not in subscribers:
            changes = await self._sync.reconcile(room_id)
            if changes:
                log.warning("XMPP room %s was out of date, reconciled: %s", room_id, changes)
                self._reconciled.add(room_id)
            subscribers = await self._rooms.subscribers(room_id)
            if subscribers is None:
                log.info("XMPP room %s no longer exists: %s not delivered", room_id, command)
                return
        # The title first: should it fail, the retry has not sent the system message yet
        # (a failure after the message would send it twice).
        match command:
            case RoomNameChanged():
                await self._sync.refresh_appearance(room_id, description=False)
            case RoomDescriptionChanged():
                await self._sync.refresh_appearance(room_id, title=False)
        # A sender who left since the command was recorded is subscribed for this one
        # message: ejabberd drops a message from a non-subscriber without saying so.
        borrowed = sender is not None and sender not in subscribers
        if borrowed:
            assert sender is not None
            await self._rooms.subscribe(room_id, sender)
        try:
            await self._rooms.deliver(
                command,
                names=await self._names_in(command),
                announce=room_id in self._reconciled,
            )
        finally:
            if borrowed:
                assert sender is not None
                await self._rooms.unsubscribe(room_id, sender)
        match command:
            case RoomNameChanged():
                self._refresh_names_later(subscribers)  # bookmarks carry the title
            case AddRoomMember() | RemoveRoomMember():
                await self._sync.sync_bookmarks([command.user_id])

    async def _ensure_room(self, room_id: UUID) -> Collection[UUID]:
        """The members of a room that exists on the server (re-created if it was lost)."""
        subscribers = await self._rooms.subscribers(room_id)
        if subscribers is None:
            await self._sync.reconcile(room_id)
            subscribers = await self._rooms.subscribers(room_id)
        return subscribers or ()

    async def _names_in(self, command: MessagingCommand) -> dict[UUID, str]:
        return await self._names.names(_people(command))

    def _refresh_names_later(self, users: Collection[UUID]) -> None:
        """Bookmark names follow a rename soon, not within its delivery: rewriting every
        member's bookmarks for each rename made a burst of renames several times slower
        (bench/xmpp_rooms.py). Membership changes still update bookmarks at once."""
        self._stale_names.update(users)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_names(), name="bookmark-names")

    async def _refresh_names(self) -> None:
        await asyncio.sleep(BOOKMARK_NAMES_DELAY_SECONDS)
        while self._stale_names:
            users, self._stale_names = self._stale_names, set()
            try:
                await self._sync.sync_bookmarks(users)
            except DependencyFailed as error:
                self._stale_names |= users
                log.warning(
                    "bookmark names of %d users not refreshed, retry in %.0f s: %s",
                    len(users), BOOKMARK_NAMES_RETRY_SECONDS, error.message,
                )  # fmt: skip
                await asyncio.sleep(BOOKMARK_NAMES_RETRY_SECONDS)

    async def health(self) -> bool:
        return await self._rooms.health()

    async def close(self) -> None:
        """Stops the bookmark refresher; the chat server is closed by whoever opened it."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher


def _sender(command: MessagingCommand) -> UUID | None:
    sender = getattr(command, "sender_id", None)
    return sender if isinstance(sender, UUID) else None


def _people(command: MessagingCommand) -> set[UUID]:
    """Whose names a command's readable text mentions."""
    match command:
        case CreateRoom():
            return {command.owner_id, *command.member_ids}
        case AddRoomMember():
            return {command.sender_id, command.user_id}
        case RemoveRoomMember():
            return {command.actor_id or command.sender_id, command.user_id}
        case (
            RoomNameChanged()
            | RoomDescriptionChanged()
            | RoomPictureUpdated()
            | RoomPictureDeleted()
            | AttachmentAdded()
            | ForwardMessage()
        ):
            return {command.sender_id}
    return set()
