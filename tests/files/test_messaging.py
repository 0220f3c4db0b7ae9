"""What the chat server is told about files: the XMPP commands recorded in the outbox in the
transaction of each change (behaviour.md#set-room-picture, #delete-room-picture, #stanzas).

The services run on a database that records messages (as with an XMPP server configured) but
has no relay, so the recorded commands stay in the outbox table to be read back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest_asyncio

from tests.conftest import Api, User, Users
from tests.files.support import image_bytes, upload_attachment
from tests.support.rooms import new_group
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.outbox import SqlOutboxQueue
from wschats.bootstrap import Adapters, SystemClock
from wschats.config import Settings
from wschats.domain.escapes import encode_text
from wschats.domain.messaging import (
    AttachmentAdded,
    ForwardedAttachment,
    ForwardMessage,
    MessagingCommand,
    RoomPictureDeleted,
    RoomPictureUpdated,
)
from wschats.domain.model import Principal
from wschats.services.attachments import AttachmentService, AttachmentUpload, ForwardRequest
from wschats.services.pictures import PictureService, PictureUpload


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def principal(user: User) -> Principal:
    return Principal(user_id=user.id, token=user.token)


class Recording:
    def __init__(self, database: SqlDatabase, adapters: Adapters, settings: Settings) -> None:
        self.database = database
        clock = SystemClock()
        self.attachments = AttachmentService(
            database, adapters.blobs, clock, max_attachment_bytes=1024 * 1024
        )
        self.pictures = PictureService(
            database,
            adapters.events,
            adapters.blobs,
            settings.capabilities(),
            clock,
            adapters.pictures,
        )
        self.queue = SqlOutboxQueue(database)

    async def commands(self, room_id: str) -> list[MessagingCommand]:
        entries = await self.queue.entries(room_id, 100)
        return [self.queue.decode(e) for e in entries]


@pytest_asyncio.fixture(loop_scope="session")
async def recording(settings: Settings, adapters: Adapters) -> AsyncIterator[Recording]:
    database = SqlDatabase(settings.resolved_database_url(), record_messages=True)
    try:
        yield Recording(database, adapters, settings)
    finally:
        await database.close()


async def test_attachment_added(api: Api, users: Users, recording: Recording) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    file_id = await recording.attachments.upload(
        principal(member),
        uuid.UUID(room["id"]),
        AttachmentUpload(
            file_name=encode_text("photo 🎉.jpg"),
            mime_type="image/jpeg",
            declared_size=5,
            chunks=_chunks(b"12345"),
            description=encode_text("caption"),
            message_id="client-message-1",
            reply_id="stanza-9",
            area="640x480",
        ),
    )
    assert await recording.commands(room["id"]) == [
        AttachmentAdded(
            room_id=uuid.UUID(room["id"]),
            sender_id=member.id,
            attachment_id=file_id,
            file_name="photo 🎉.jpg",
            mime_type="image/jpeg",
            size=5,
            area="640x480",
            message_id="client-message-1",
            reply_id="stanza-9",
            description="caption",
        )
    ]
    # Empty optional headers are absent; deleting sends nothing (behaviour.md#delete-attachment).
    other = await recording.attachments.upload(
        principal(owner),
        uuid.UUID(room["id"]),
        AttachmentUpload(
            file_name="a",
            mime_type="",
            declared_size=1,
            chunks=_chunks(b"1"),
            description="",
            message_id="",
            reply_id="",
            area="",
        ),
    )
    await recording.attachments.delete(principal(owner), file_id)
    commands = await recording.commands(room["id"])
    assert len(commands) == 2
    assert commands[1] == AttachmentAdded(
        room_id=uuid.UUID(room["id"]),
        sender_id=owner.id,
        attachment_id=other,
        file_name="a",
        mime_type="application/octet-stream",
        size=1,
    )


async def test_room_picture_updated_and_deleted(
    api: Api, users: Users, recording: Recording
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    room_id = uuid.UUID(room["id"])
    png = image_bytes()
    await recording.pictures.set_room_picture(
        principal(owner),
        room_id,
        PictureUpload(
            file_name=encode_text("ròom.png"),
            mime_type="image/png",
            declared_size=len(png),
            chunks=_chunks(png),
        ),
    )
    picture = await recording.pictures.room_picture(principal(member), room_id)
    await recording.pictures.delete_room_picture(principal(owner), room_id)
    assert await recording.commands(room["id"]) == [
        RoomPictureUpdated(
            room_id=room_id, sender_id=owner.id, picture_id=picture.id, picture_name="ròom.png"
        ),
        RoomPictureDeleted(room_id=room_id, sender_id=owner.id),
    ]


async def test_forward_message(api: Api, users: Users, recording: Recording) -> None:
    me, a, b = await users.many(3)
    source = await new_group(api, me, a, b)
    target = await new_group(api, me, b, a)
    file_id = (await upload_attachment(api, a, source["id"], b"abc", name="n.txt")).json()["id"]
    with_attachment = (
        "<message xmlns='jabber:client' from='x@carbonio' to='y@muclight.carbonio' "
        "type='groupchat'><x xmlns='urn:xmpp:muclight:0#configuration'>"
        f"<operation>attachmentAdded</operation><attachment-id>{file_id}</attachment-id></x>"
        "<body/></message>"
    )
    text = "<message><body>hi</body></message>"
    sent_at = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    await recording.attachments.forward(
        principal(me),
        uuid.UUID(target["id"]),
        [
            ForwardRequest(original_message=text, original_sent_at=sent_at),
            ForwardRequest(original_message=with_attachment, description="see"),
        ],
    )
    copies = (await api.get(f"/rooms/{target['id']}/attachments", me)).json()["attachments"]
    assert len(copies) == 1
    copy_id = uuid.UUID(copies[0]["id"])
    target_id = uuid.UUID(target["id"])
    assert await recording.commands(target["id"]) == [
        ForwardMessage(
            room_id=target_id,
            sender_id=me.id,
            original_message=text,
            original_sent_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        ),
        ForwardMessage(
            room_id=target_id,
            sender_id=me.id,
            original_message=with_attachment,
            original_sent_at=None,
            description="see",
            attachment=ForwardedAttachment(
                attachment_id=copy_id, file_name="n.txt", mime_type="text/plain", size=3
            ),
        ),
    ]
