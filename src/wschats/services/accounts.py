"""Removing a user from the chats: what `wschats user delete` does to their rooms and files.

What happens, in one transaction (docs/DECISIONS.md#deleting-a-user):
- every room they are a member of loses them, as if they had left it: ROOM_MEMBER_REMOVED to
  the members as they were (them included), and the chat server is told;
- a room they were the only owner of, with others left, first gets a new owner: the member who
  joined earliest (ROOM_OWNER_PROMOTED to the members), so no room is left without one;
- a room they were the last member of is deleted with everything in it (ROOM_DELETED), as when
  the last member leaves;
- a one-to-one stays, with the other person alone in it, so their history and files stay;
- the attachments they sent stay in their rooms (owners can still delete them); their own
  picture is removed (USER_PICTURE_DELETED to the people who shared a room with them);
- their settings (mutes, cleared history, workspace order) go.
Their account and tokens are the directory's to remove, after this has succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from wschats.domain.events import RoomMemberRemoved, RoomOwnerPromoted, UserPictureDeleted
from wschats.domain.messaging import RemoveRoomMember
from wschats.domain.model import RoomType
from wschats.ports import BlobStore, Clock, Database, EventDispatcher
from wschats.services.common import delete_room_cascade
from wschats.services.writes import Writes


@dataclass(frozen=True)
class Removal:
    """What removing a user changed, for the administrator who asked."""

    rooms_left: int
    rooms_deleted: int
    owners_promoted: int
    picture_removed: bool


class AccountService:
    def __init__(
        self, database: Database, events: EventDispatcher, blobs: BlobStore, clock: Clock
    ) -> None:
        self._db = database
        self._writes = Writes(database, blobs, events)
        self._clock = clock

    async def remove_user(self, user_id: UUID) -> Removal:
        now = self._clock.now()
        left = deleted = promoted = 0
        async with self._writes.transaction() as tx:
            rooms = await tx.rooms.list_top_level_for_user(user_id)
            # Rooms before the user, as adding a member locks them: no lock-order deadlock.
            for room in sorted(rooms, key=lambda r: str(r.id)):
                await tx.lock_room(room.id)
            await tx.lock_user(user_id)
            contacts = await tx.members.contacts_of(user_id)
            picture = await tx.files.user_avatar(user_id)
            if picture is not None:
                await tx.files.delete(picture.id)
                tx.forget_file(picture.id)
                tx.notify(UserPictureDeleted(sent_date=now, user_id=user_id), contacts)
            chats = await tx.chats_users.get(user_id)
            if chats is not None and chats.picture_updated_at is not None:
                chats.picture_updated_at = None
                await tx.chats_users.save(chats)
            for room in rooms:
                members = await tx.members.of_room(room.id)
                everyone = [m.user_id for m in members]
                others = [m for m in members if m.user_id != user_id]
                if not others:
                    await delete_room_cascade(
                        tx, room, caller_id=user_id, recipients=everyone, clock=self._clock,
                    )  # fmt: skip
                    deleted += 1
                    continue
                owners = [m for m in others if m.owner]
                if not owners:  # they were the only owner: the earliest member takes over
                    heir = others[0]
                    await tx.members.set_owner(room.id, heir.user_id, True)
                    tx.notify(
                        RoomOwnerPromoted(sent_date=now, room_id=room.id, user_id=heir.user_id),
                        everyone,
                    )
                    owners = [heir]
                    promoted += 1
                await tx.members.remove(room.id, user_id)
                targets = [room]
                if room.type is RoomType.WORKSPACE:
                    targets = (await tx.rooms.children_of([room.id]))[room.id]
                for target in targets:
                    await tx.outbox.add(
                        RemoveRoomMember(
                            room_id=target.id, sender_id=owners[0].user_id, user_id=user_id
                        )
                    )
                tx.notify(
                    RoomMemberRemoved(sent_date=now, room_id=room.id, user_id=user_id), everyone
                )
                left += 1
            channels = await tx.rooms.children_of(
                [r.id for r in rooms if r.type is RoomType.WORKSPACE]
            )
            room_ids = [r.id for r in rooms] + [c.id for cs in channels.values() for c in cs]
            for room_id in await tx.settings.of_user(user_id, room_ids):
                await tx.settings.delete(user_id, room_id)
        return Removal(
            rooms_left=left,
            rooms_deleted=deleted,
            owners_promoted=promoted,
            picture_removed=picture is not None,
        )
