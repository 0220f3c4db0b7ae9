"""Attachments and forwarding (behaviour.md#upload-attachment, #forward; DECISIONS.md#files).

Uploads stream from the request to storage; nothing of a file is kept in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from wschats.domain.access import RoomAccess, check_file_reach
from wschats.domain.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from wschats.domain.escapes import decode_header
from wschats.domain.forwarding import read_forwarded
from wschats.domain.messaging import AttachmentAdded, ForwardedAttachment, ForwardMessage
from wschats.domain.model import FileMetadata, FileType, Principal, Room, RoomType
from wschats.domain.time import as_utc, format_datetime
from wschats.ports import BlobStore, Clock, Database, Repositories
from wschats.services.common import load_access
from wschats.services.files import FileStore, UploadStream
from wschats.services.writes import Writes

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_NAME_LENGTH = 256  # the columns' sizes
MAX_MIME_TYPE_LENGTH = 256
MAX_ID_HEADER_LENGTH = 256
DEFAULT_MIME_TYPE = "application/octet-stream"
_AREA = re.compile(r"[0-9]{1,6}x[0-9]{1,6}")
# type/subtype with optional parameters (RFC 9110 media-type), so a download's Content-Type is
# always well formed.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:\s*;\s*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\r\n]*\"))*")
_NO_ATTACHMENTS = (RoomType.WORKSPACE, RoomType.CHANNEL)


@dataclass(frozen=True)
class AttachmentUpload:
    """An upload as sent; the text headers are still `\\uXXXX`-escaped."""

    file_name: str
    mime_type: str
    declared_size: int
    chunks: AsyncIterable[bytes]  # exactly `declared_size` bytes, or an error
    description: str | None = None
    message_id: str | None = None
    reply_id: str | None = None
    area: str | None = None


@dataclass(frozen=True)
class AttachmentPage:
    attachments: list[FileMetadata]
    filter: str | None  # the cursor of the next page, None on the last


@dataclass(frozen=True)
class ForwardRequest:
    original_message: str
    original_sent_at: datetime | None = None
    description: str | None = None


@dataclass(frozen=True)
class _Forward:
    request: ForwardRequest
    source: FileMetadata | None
    copy_id: UUID | None


class AttachmentService:
    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        clock: Clock,
        *,
        max_attachment_bytes: int,
    ) -> None:
        self._db = database
        self._files = FileStore(blobs)
        self._writes = Writes(database, blobs)
        self._clock = clock
        self._max_bytes = max_attachment_bytes

    async def close(self) -> None:
        await self._files.close()

    # ---------------------------------------------------------------- reads

    async def list_attachments(
        self,
        caller: Principal,
        room_id: UUID,
        items_number: int | None = None,
        cursor: str | None = None,
    ) -> AttachmentPage:
        limit = DEFAULT_PAGE_SIZE if items_number is None else items_number
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise BadRequest(f"itemsNumber must be between 1 and {MAX_PAGE_SIZE}")
        after = decode_cursor(cursor) if cursor else None
        async with self._db.unit_of_work() as uow:
            await load_access(uow, room_id, caller.user_id)
            found = await uow.files.page(room_id, limit + 1, after)
        page = found[:limit]
        more = len(found) > limit
        return AttachmentPage(attachments=page, filter=encode_cursor(page[-1]) if more else None)

    async def attachment(self, caller: Principal, file_id: UUID) -> FileMetadata:
        async with self._db.reads() as uow:  # no snapshot needed (see PreviewService)
            reach = await uow.files.reach(file_id, caller.user_id)
        if (
            reach is None
            or reach.file.type is not FileType.ATTACHMENT
            or reach.file.room_id is None
        ):
            raise NotFound(f"Attachment {file_id} not found")  # as _load_attachment
        check_file_reach(reach, caller.user_id)
        return reach.file

    async def read(
        self, attachment: FileMetadata, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return await self._files.read(attachment, start, end)

    # ---------------------------------------------------------------- writes

    async def upload(self, caller: Principal, room_id: UUID, upload: AttachmentUpload) -> UUID:
        # Web-layer checks (behaviour.md#upload-attachment) first, then access, size, the bytes.
        name = decode_header(upload.file_name, field="file name")
        if len(name) > MAX_NAME_LENGTH:
            raise BadRequest(f"The file name is longer than {MAX_NAME_LENGTH} characters")
        description = decode_header(upload.description or "", field="description")
        area = _area(upload.area)
        mime_type = _mime_type(upload.mime_type)
        message_id = _optional_id(upload.message_id, "messageId")
        reply_id = _optional_id(upload.reply_id, "replyId")
        async with self._db.unit_of_work() as uow:
            access = await load_access(uow, room_id, caller.user_id)
        _check_attachment_room(access.room)
        if upload.declared_size > self._max_bytes:
            raise PayloadTooLarge(f"An attachment is limited to {self._max_bytes} bytes")

        file_id = uuid.uuid4()
        size = await self._files.put(file_id, UploadStream(upload.chunks, self._max_bytes))
        now = self._clock.now()
        metadata = FileMetadata(
            id=file_id,
            type=FileType.ATTACHMENT,
            name=name,
            size=size,
            mime_type=mime_type,
            user_id=caller.user_id,
            room_id=room_id,
            created_at=now,
            updated_at=now,
            area=area,
        )

        async def write() -> None:
            async with self._writes.transaction() as tx:
                await tx.lock_room(room_id)
                # Again, in the transaction: the room or the membership may be gone by now.
                access = await load_access(tx, room_id, caller.user_id)
                _check_attachment_room(access.room)
                await tx.files.add(metadata)
                await tx.outbox.add(
                    AttachmentAdded(
                        room_id=room_id,
                        sender_id=caller.user_id,
                        attachment_id=file_id,
                        file_name=name,
                        mime_type=mime_type,
                        size=size,
                        area=area,
                        message_id=message_id,
                        reply_id=reply_id,
                        description=description,
                    )
                )

        await self._files.record([file_id], write)
        return file_id

    async def delete(self, caller: Principal, file_id: UUID) -> None:
        async with self._writes.transaction() as tx:
            metadata, access = await _load_attachment(tx, file_id, caller.user_id)
            if metadata.user_id != caller.user_id and not access.caller.owner:
                raise Forbidden("Only the uploader or an owner of the room can delete it")
            await tx.files.delete(file_id)
            # No event, no XMPP message (behaviour.md#delete-attachment); the bytes go after
            # the row.
            tx.forget_file(file_id)

    async def forward(
        self, caller: Principal, room_id: UUID, messages: Sequence[ForwardRequest]
    ) -> None:
        """Forward every message, or none: each is checked, and each attachment found and
        copied, before anything is recorded (the original stopped half-way on an error)."""
        attachment_ids = [read_forwarded(m.original_message).attachment_id for m in messages]
        async with self._db.unit_of_work() as uow:
            await load_access(uow, room_id, caller.user_id)
            plan = [
                _Forward(
                    request=message,
                    source=(source := await _forward_source(uow, found, caller.user_id)),
                    copy_id=uuid.uuid4() if source is not None else None,
                )
                for message, found in zip(messages, attachment_ids, strict=True)
            ]
        copies = [p.copy_id for p in plan if p.copy_id is not None]
        copied: list[UUID] = []
        try:
            for item in plan:
                if item.source is not None and item.copy_id is not None:
                    await self._files.copy(item.source.id, item.copy_id)
                    copied.append(item.copy_id)
        except BaseException:
            for copy_id in copied:
                await self._files.discard(copy_id)
            raise

        now = self._clock.now()

        async def write() -> None:
            async with self._writes.transaction() as tx:
                await tx.lock_room(room_id)
                await load_access(tx, room_id, caller.user_id)
                for item in plan:
                    copy = None
                    if item.source is not None and item.copy_id is not None:
                        copy = FileMetadata(
                            id=item.copy_id,
                            type=FileType.ATTACHMENT,
                            name=item.source.name,
                            size=item.source.size,
                            mime_type=item.source.mime_type,
                            user_id=caller.user_id,
                            room_id=room_id,
                            created_at=now,
                            updated_at=now,
                            area=item.source.area,
                        )
                        await tx.files.add(copy)
                    await tx.outbox.add(_forward_command(caller, room_id, item.request, copy))

        await self._files.record(copies, write)


# -------------------------------------------------------------------- rules


def _check_attachment_room(room: Room) -> None:
    if room.type in _NO_ATTACHMENTS:
        raise BadRequest(f"A {room.type} cannot have attachments")


def _area(value: str | None) -> str | None:
    """`<width>x<height>` in digits (DECISIONS.md#files); empty means absent."""
    if not value:
        return None
    if _AREA.fullmatch(value) is None:
        raise BadRequest(f"area must be <width>x<height> in digits, got {value!r}")
    return value


def _mime_type(value: str) -> str:
    value = value.strip()
    if not value:
        return DEFAULT_MIME_TYPE  # what the web client sends for a file of unknown type
    if len(value) > MAX_MIME_TYPE_LENGTH or _MIME_TYPE.fullmatch(value) is None:
        raise BadRequest(f"mimeType must be a media type such as text/plain, got {value!r}")
    return value


def _optional_id(value: str | None, header: str) -> str | None:
    if not value:
        return None
    if len(value) > MAX_ID_HEADER_LENGTH:
        raise BadRequest(f"{header} is longer than {MAX_ID_HEADER_LENGTH} characters")
    return value


async def _load_attachment(
    uow: Repositories, file_id: UUID, user_id: UUID
) -> tuple[FileMetadata, RoomAccess]:
    """The attachment and the caller's access to its room; pictures and attachments whose
    room is gone are not attachments (404; the original failed with 500)."""
    metadata = await uow.files.get(file_id)
    if metadata is None or metadata.type is not FileType.ATTACHMENT or metadata.room_id is None:
        raise NotFound(f"Attachment {file_id} not found")
    access = await load_access(uow, metadata.room_id, user_id)
    return metadata, access


async def _forward_source(
    uow: Repositories, attachment_id: str | None, user_id: UUID
) -> FileMetadata | None:
    if attachment_id is None:
        return None
    try:
        file_id = UUID(attachment_id)
    except ValueError:
        raise NotFound(f"Attachment {attachment_id!r} of a forwarded message not found") from None
    metadata, _ = await _load_attachment(uow, file_id, user_id)
    return metadata


def _forward_command(
    caller: Principal, room_id: UUID, request: ForwardRequest, copy: FileMetadata | None
) -> ForwardMessage:
    return ForwardMessage(
        room_id=room_id,
        sender_id=caller.user_id,
        original_message=request.original_message,
        original_sent_at=as_utc(request.original_sent_at) if request.original_sent_at else None,
        description=request.description or "",
        attachment=(
            ForwardedAttachment(
                attachment_id=copy.id, file_name=copy.name, mime_type=copy.mime_type, size=copy.size
            )
            if copy is not None
            else None
        ),
    )


# -------------------------------------------------------------------- paging cursor


def encode_cursor(last: FileMetadata) -> str:
    """The original's cursor: standard Base64 of `{"id", "createdAt"}` (opaque to clients)."""
    text = json.dumps({"id": str(last.id), "createdAt": format_datetime(last.created_at)})
    return base64.b64encode(text.encode()).decode()


def decode_cursor(value: str) -> tuple[datetime, UUID]:
    # A `+` that was not URL-encoded arrives as a space.
    raw = value.strip().replace(" ", "+")
    try:
        data = json.loads(base64.b64decode(raw, validate=True))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        created_at = datetime.fromisoformat(data["createdAt"].replace("Z", "+00:00"))
        file_id = UUID(data["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise BadRequest("filter is not a cursor this server gave") from None
    if created_at.tzinfo is None:
        raise BadRequest("filter is not a cursor this server gave")
    try:
        return as_utc(created_at), file_id
    except OverflowError:  # an offset that takes the date out of range
        raise BadRequest("filter is not a cursor this server gave") from None
