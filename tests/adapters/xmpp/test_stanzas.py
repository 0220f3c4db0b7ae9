"""The system-message stanzas, as the exact strings of behaviour.md#stanzas."""

from __future__ import annotations

from uuid import UUID

from wschats.adapters.xmpp import stanzas
from wschats.adapters.xmpp.stanzas import MONGOOSEIM_JIDS, Jids
from wschats.domain.messaging import (
    AttachmentAdded,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
)

ROOM = UUID("6c5a3a2e-3b0f-4a52-9c3e-0a8c8a1f0d11")
SENDER = UUID("8a1b7e2c-1d4f-4c7a-9e1b-2f3a4b5c6d7e")
USER = UUID("0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b")
FILE = UUID("d3c2b1a0-9f8e-4d7c-8b6a-5a4f3e2d1c0b")

HEAD = (
    f"<message xmlns='jabber:client' from='{SENDER}@carbonio' "
    f"to='{ROOM}@muclight.carbonio' type='groupchat'>"
)
CONFIG = "<x xmlns='urn:xmpp:muclight:0#configuration'>"
PEANUTS = "\\u0070\\u0065\\u0061\\u006e\\u0075\\u0074\\u0073\\u002e\\u006a\\u0070\\u0067"


def test_room_name_changed() -> None:
    stanza = stanzas.room_name_changed(MONGOOSEIM_JIDS, RoomNameChanged(ROOM, SENDER, "Hi 😀"))
    assert stanza == (
        f"{HEAD}{CONFIG}<operation>roomNameChanged</operation>"
        "<value encoded='UTF-8'>\\u0048\\u0069\\u0020\\ud83d\\ude00</value></x>"
        "<body/></message>"
    )


def test_room_description_changed_and_its_empty_value() -> None:
    stanza = stanzas.room_description_changed(
        MONGOOSEIM_JIDS, RoomDescriptionChanged(ROOM, SENDER, "a&b")
    )
    assert stanza == (
        f"{HEAD}{CONFIG}<operation>roomDescriptionChanged</operation>"
        "<value encoded='UTF-8'>\\u0061\\u0026\\u0062</value></x><body/></message>"
    )
    empty = stanzas.room_description_changed(
        MONGOOSEIM_JIDS, RoomDescriptionChanged(ROOM, SENDER, "")
    )
    assert empty == (
        f"{HEAD}{CONFIG}<operation>roomDescriptionChanged</operation><value/></x><body/></message>"
    )


def test_room_picture_updated_and_deleted() -> None:
    updated = stanzas.room_picture_updated(
        MONGOOSEIM_JIDS, RoomPictureUpdated(ROOM, SENDER, FILE, "peanuts.jpg")
    )
    assert updated == (
        f"{HEAD}{CONFIG}<operation>roomPictureUpdated</operation>"
        f"<picture-id>{FILE}</picture-id>"
        f"<picture-name encoded='UTF-8'>{PEANUTS}</picture-name></x><body/></message>"
    )
    deleted = stanzas.room_picture_deleted(MONGOOSEIM_JIDS, RoomPictureDeleted(ROOM, SENDER))
    assert deleted == (
        f"{HEAD}{CONFIG}<operation>roomPictureDeleted</operation></x><body/></message>"
    )


def test_member_added_and_removed() -> None:
    added = stanzas.member_added(MONGOOSEIM_JIDS, ROOM, SENDER, USER)
    assert added == (
        f"{HEAD}{CONFIG}<operation>memberAdded</operation><user-id>{USER}</user-id></x>"
        "<body/></message>"
    )
    removed = stanzas.member_removed(MONGOOSEIM_JIDS, ROOM, SENDER, USER)
    assert removed == (
        f"{HEAD}{CONFIG}<operation>memberRemoved</operation><user-id>{USER}</user-id></x>"
        "<body/></message>"
    )


def test_attachment_as_in_the_original_integration_test() -> None:
    stanza = stanzas.attachment_added(
        MONGOOSEIM_JIDS,
        AttachmentAdded(ROOM, SENDER, FILE, "peanuts.jpg", "image/jpg", 33786, area="15x20"),
    )
    assert stanza == (
        f"{HEAD}{CONFIG}<operation>attachmentAdded</operation>"
        f"<attachment-id>{FILE}</attachment-id><filename encoded='UTF-8'>{PEANUTS}</filename>"
        "<mime-type>image/jpg</mime-type><size>33786</size><area>15x20</area></x>"
        "<body/></message>"
    )


def test_attachment_with_message_id_reply_and_description() -> None:
    stanza = stanzas.attachment_added(
        MONGOOSEIM_JIDS,
        AttachmentAdded(
            ROOM,
            SENDER,
            FILE,
            "a.pdf",
            "application/pdf",
            10,
            message_id="msg-1",
            reply_id="stanza-9",
            description="see\n",
        ),
    )
    assert stanza == (
        f"<message xmlns='jabber:client' from='{SENDER}@carbonio' id='msg-1' "
        f"to='{ROOM}@muclight.carbonio' type='groupchat'>"
        f"{CONFIG}<operation>attachmentAdded</operation><attachment-id>{FILE}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0061\\u002e\\u0070\\u0064\\u0066</filename>"
        "<mime-type>application/pdf</mime-type><size>10</size></x>"
        "<body encoded='UTF-8'>\\u0073\\u0065\\u0065\\u000a</body>"
        f"<reply xmlns='urn:xmpp:reply:0' id='stanza-9' to='{ROOM}@muclight.carbonio'/>"
        "</message>"
    )


def test_empty_optional_headers_are_absent() -> None:
    stanza = stanzas.attachment_added(
        MONGOOSEIM_JIDS,
        AttachmentAdded(
            ROOM, SENDER, FILE, "a", "text/plain", 1, area="", message_id="", reply_id=""
        ),
    )
    assert " id=" not in stanza
    assert "<reply" not in stanza
    assert "<area" not in stanza


def test_client_supplied_values_cannot_break_the_markup_or_a_graphql_block_string() -> None:
    stanza = stanzas.attachment_added(
        MONGOOSEIM_JIDS,
        AttachmentAdded(
            ROOM,
            SENDER,
            FILE,
            "x",
            'text/plain; charset="""<&>',
            1,
            message_id="it's",
            reply_id='"""',
        ),
    )
    assert '"' not in stanza
    assert "id='it&apos;s'" in stanza
    assert "<mime-type>text/plain; charset=&quot;&quot;&quot;&lt;&amp;&gt;</mime-type>" in stanza
    assert "<reply xmlns='urn:xmpp:reply:0' id='&quot;&quot;&quot;'" in stanza


def test_other_domains_and_the_storage_hint() -> None:
    jids = Jids(domain="example.org", muc_domain="conference.example.org")
    stanza = stanzas.room_picture_deleted(jids, RoomPictureDeleted(ROOM, SENDER), store_hint=True)
    assert stanza == (
        f"<message xmlns='jabber:client' from='{SENDER}@example.org' "
        f"to='{ROOM}@conference.example.org' type='groupchat'>"
        f"{CONFIG}<operation>roomPictureDeleted</operation></x><body/>"
        "<store xmlns='urn:xmpp:hints'/></message>"
    )
