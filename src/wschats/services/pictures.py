"""Room and user pictures (behaviour.md#set-room-picture, ...; DECISIONS.md#files).

A picture is small (a capability bounds the upload), so it is received into memory, decoded
whole and stored re-encoded by the `PictureNormaliser`: bounded in size, without metadata,
with the type of the stored bytes rather than the declared one. Every client decodes a
picture, so what is stored is never the uploaded file itself.
Every new picture gets a new id: the bytes under an id never change, which is what lets
downloads use the id as their ETag (the original reused a user's picture id).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from wschats.domain.errors import BadRequest, Forbidden, NotFound
from wschats.domain.escapes import decode_header
from wschats.domain.events import (
    RoomPictureChanged,
    UserPictureChanged,
    UserPictureDeleted,
)
from wschats.domain.events import RoomPictureDeleted as RoomPictureDeletedEvent
from wschats.domain.messaging import RoomPictureDeleted, RoomPictureUpdated
from wschats.domain.model import (
    Capabilities,
    ChatsUser,
    FileMetadata,
    FileType,
    Principal,
    Room,
    RoomType,
)
from wschats.ports import BlobStore, Clock, Database, EventDispatcher, PictureNormaliser
from wschats.services.common import load_access
from wschats.services.files import FileStore, gathered
from wschats.services.writes import Transaction, Writes

MAX_NAME_LENGTH = 256  # the column's size


@dataclass(frozen=True)
class PictureUpload:
    file_name: str  # as sent: `\uXXXX`-escaped
    mime_type: str
    declared_size: int
    chunks: AsyncIterable[bytes]  # exactly `declared_size` bytes, or an error


class PictureService:
    def __init__(
        self,
        database: Database,
        events: EventDispatcher,
        blobs: BlobStore,
        capabilities: Capabilities,
        clock: Clock,
        normaliser: PictureNormaliser,
    ) -> None:
        self._db = database
        self._writes = Writes(database, blobs, events)
        self._files = FileStore(blobs)
        self._capabilities = capabilities
        self._clock = clock
        self._normaliser = normaliser

    async def close(self) -> None:
        await self._files.close()

    # ---------------------------------------------------------------- reads

    async def room_picture(self, caller: Principal, room_id: UUID) -> FileMetadata:
        async with self._db.unit_of_work() as uow:
            await load_access(uow, room_id, caller.user_id)
            pictures = await uow.files.of_room(room_id, FileType.ROOM_AVATAR)
        if not pictures:
            raise NotFound(f"Room {room_id} has no picture")
        return pictures[0]

    async def user_picture(self, caller: Principal, user_id: UUID) -> FileMetadata:
        # Any authenticated user may see any user's picture (behaviour.md#get-user-picture).
        async with self._db.unit_of_work() as uow:
            picture = await uow.files.user_avatar(user_id)
        if picture is None:
            raise NotFound(f"User {user_id} has no picture")
        return picture

    async def read(
        self, picture: FileMetadata, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return await self._files.read(picture, start, end)

    # ---------------------------------------------------------------- room picture

    async def set_room_picture(
        self, caller: Principal, room_id: UUID, upload: PictureUpload
    ) -> None:
        name = _file_name(upload.file_name)
        async with self._db.unit_of_work() as uow:
            access = await load_access(uow, room_id, caller.user_id, as_owner=True)
        _check_picture_room(access.room)

        async def swap(tx: Transaction, picture: FileMetadata) -> None:
            await tx.lock_room(room_id)
            # Again, in the transaction: the room or the caller's ownership may be gone by now.
            access = await load_access(tx, room_id, caller.user_id, as_owner=True)
            _check_picture_room(access.room)
            await _replace(tx, await tx.files.of_room(room_id, FileType.ROOM_AVATAR), picture)
            now = picture.created_at
            access.room.picture_updated_at = now
            access.room.updated_at = now
            await tx.rooms.update(access.room)
            await tx.outbox.add(
                RoomPictureUpdated(
                    room_id=room_id,
                    sender_id=caller.user_id,
                    picture_id=picture.id,
                    picture_name=name,
                )
            )
            tx.notify(
                RoomPictureChanged(sent_date=now, room_id=room_id, updated_at=now),
                access.member_ids,
            )

        await self._set_picture(
            upload,
            limit=self._capabilities.max_room_image_size_in_kb * 1024,
            file_type=FileType.ROOM_AVATAR,
            name=name,
            user_id=caller.user_id,
            room_id=room_id,
            swap=swap,
        )

    async def delete_room_picture(self, caller: Principal, room_id: UUID) -> None:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await tx.lock_room(room_id)
            access = await load_access(tx, room_id, caller.user_id, as_owner=True)
            pictures = await tx.files.of_room(room_id, FileType.ROOM_AVATAR)
            if not pictures:
                raise NotFound(f"Room {room_id} has no picture")
            for picture in pictures:
                await tx.files.delete(picture.id)
                tx.forget_file(picture.id)
            access.room.picture_updated_at = None
            access.room.updated_at = now
            await tx.rooms.update(access.room)
            await tx.outbox.add(RoomPictureDeleted(room_id=room_id, sender_id=caller.user_id))
            tx.notify(RoomPictureDeletedEvent(sent_date=now, room_id=room_id), access.member_ids)

    # ---------------------------------------------------------------- user picture

    async def set_user_picture(
        self, caller: Principal, user_id: UUID, upload: PictureUpload
    ) -> None:
        name = _file_name(upload.file_name)
        if user_id != caller.user_id:
            raise Forbidden("A user can only change their own picture")

        async def swap(tx: Transaction, picture: FileMetadata) -> None:
            await tx.lock_user(user_id)
            replaced = await tx.files.user_avatar(user_id)
            await _replace(tx, [replaced] if replaced is not None else [], picture)
            now = picture.created_at
            chats = await tx.chats_users.get(user_id) or ChatsUser(id=user_id)
            chats.picture_updated_at = now
            await tx.chats_users.save(chats)
            tx.notify(
                UserPictureChanged(
                    sent_date=now, user_id=user_id, image_id=picture.id, updated_at=now
                ),
                await tx.members.contacts_of(user_id),
            )

        await self._set_picture(
            upload,
            limit=self._capabilities.max_user_image_size_in_kb * 1024,
            file_type=FileType.USER_AVATAR,
            name=name,
            user_id=user_id,
            room_id=None,
            swap=swap,
        )

    async def delete_user_picture(self, caller: Principal, user_id: UUID) -> None:
        if user_id != caller.user_id:
            raise Forbidden("A user can only delete their own picture")
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await tx.lock_user(user_id)
            picture = await tx.files.user_avatar(user_id)
            if picture is None:
                raise NotFound(f"User {user_id} has no picture")
            await tx.files.delete(picture.id)
            tx.forget_file(picture.id)
            chats = await tx.chats_users.get(user_id)
            if chats is not None:
                chats.picture_updated_at = None
                await tx.chats_users.save(chats)
            contacts = await tx.members.contacts_of(user_id)
            tx.notify(UserPictureDeleted(sent_date=now, user_id=user_id), contacts)

    # ---------------------------------------------------------------- setting a picture

    async def _set_picture(
        self,
        upload: PictureUpload,
        *,
        limit: int,
        file_type: FileType,
        name: str,
        user_id: UUID,
        room_id: UUID | None,
        swap: Callable[[Transaction, FileMetadata], Awaitable[None]],
    ) -> None:
        """The steps a room's and a user's picture share, once the caller may set it: receive
        and normalise the upload, store its bytes under a new id, then record the picture
        with `swap`, in one transaction that puts it in the place of the previous one (see
        `_replace`) and says who is told. If recording fails, the bytes go again."""
        data, mime_type = await self._receive(upload, limit)
        now = self._clock.now()
        picture = FileMetadata(
            id=uuid.uuid4(),
            type=file_type,
            name=name,
            size=len(data),
            mime_type=mime_type,
            user_id=user_id,
            room_id=room_id,
            created_at=now,
            updated_at=now,
        )
        await self._files.put(picture.id, _single(data))

        async def write() -> None:
            async with self._writes.transaction() as tx:
                await swap(tx, picture)

        await self._files.record([picture.id], write)

    # ---------------------------------------------------------------- helpers

    async def _receive(self, upload: PictureUpload, limit: int) -> tuple[bytes, str]:
        """The picture to store and its type, after the checks (behaviour.md; the size limit
        is the upload's)."""
        if upload.declared_size > limit:
            raise BadRequest(f"The picture is larger than {limit} bytes")
        if not upload.mime_type.lower().startswith("image/"):
            raise BadRequest(
                f"The mime type of a picture must be image/*, got {upload.mime_type!r}"
            )
        data = await gathered(upload.chunks, limit)
        picture = await self._normaliser.normalise_picture(data)
        return picture.content, picture.mime_type


def _file_name(raw: str) -> str:
    name = decode_header(raw, field="file name")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"The file name is longer than {MAX_NAME_LENGTH} characters")
    return name


def _check_picture_room(room: Room) -> None:
    if room.type is not RoomType.GROUP:
        raise BadRequest(f"Only a group can have a picture, room {room.id} is a {room.type}")


async def _replace(tx: Transaction, old: Sequence[FileMetadata], new: FileMetadata) -> None:
    """`new` takes the place of the `old` pictures, whose bytes go after the commit."""
    for picture in old:
        await tx.files.delete(picture.id)
        tx.forget_file(picture.id)
    await tx.files.add(new)


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data
