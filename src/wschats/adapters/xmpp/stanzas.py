"""The groupchat stanzas sent into rooms, as exact strings (docs/behaviour.md, XMPP stanzas).

Shape: `<message xmlns='jabber:client' from=... [id=...] to=... type='groupchat'>` holding, in
order, the configuration `x` (with `operation` first), the `body` (`<body/>` when empty, else
`\\u`-encoded with `encoded='UTF-8'`), an optional `reply`, an optional `forwarded`, and, for
servers that need it, a storage hint. A `text` given for a stanza replaces its body by that
readable line as plain UTF-8 (ejabberd, for standard clients; docs/xmpp-rooms.md): the
configuration element is written the same either way. Attributes are single-quoted. No
character `"` is ever written (it is escaped as `&quot;`): the original replaced it by `'`,
which could corrupt text, and a raw `"` could end a GraphQL block string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from wschats.domain.escapes import encode_text
from wschats.domain.messaging import (
    AttachmentAdded,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
)

CONFIGURATION_NS = "urn:xmpp:muclight:0#configuration"
STORE_HINT = "<store xmlns='urn:xmpp:hints'/>"


@dataclass(frozen=True)
class Jids:
    """How user and room ids become JIDs on one chat server."""

    domain: str
    muc_domain: str

    def user(self, user_id: UUID | str) -> str:
        return f"{user_id}@{self.domain}"

    def room(self, room_id: UUID | str) -> str:
        return f"{room_id}@{self.muc_domain}"


MONGOOSEIM_JIDS = Jids(domain="carbonio", muc_domain="muclight.carbonio")


class Operation(StrEnum):
    ROOM_NAME_CHANGED = "roomNameChanged"
    ROOM_DESCRIPTION_CHANGED = "roomDescriptionChanged"
    ROOM_PICTURE_UPDATED = "roomPictureUpdated"
    ROOM_PICTURE_DELETED = "roomPictureDeleted"
    ATTACHMENT_ADDED = "attachmentAdded"
    MEMBER_ADDED = "memberAdded"
    MEMBER_REMOVED = "memberRemoved"


@dataclass(frozen=True)
class Entry:
    """One configuration entry; an `encoded` one carries user text, `\\u`-encoded."""

    name: str
    value: str
    encoded: bool = False


def escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def escape_attribute(value: str) -> str:
    return escape_text(value).replace("'", "&apos;")


def text_element(name: str, text: str, *, encoded: bool = False) -> str:
    """`<name>text</name>`, `<name/>` when empty; an encoded one gets `encoded='UTF-8'`."""
    if not text:
        return f"<{name}/>"
    if encoded:
        return f"<{name} encoded='UTF-8'>{encode_text(text)}</{name}>"
    return f"<{name}>{escape_text(text)}</{name}>"


def message(
    jids: Jids,
    *,
    room_id: UUID,
    sender_id: UUID,
    operation: Operation | None = None,
    entries: Sequence[Entry] = (),
    body: str = "",
    message_id: str | None = None,
    reply_id: str | None = None,
    forwarded: str = "",
    store_hint: bool = False,
    text: str | None = None,
) -> str:
    """A groupchat stanza from `sender_id` to the room; `forwarded` is a ready element.

    `text`, when given, is the body as plain text instead of the `\\u`-encoded `body`.
    """
    room = jids.room(room_id)
    head = f"<message xmlns='jabber:client' from='{escape_attribute(jids.user(sender_id))}'"
    if message_id:
        head += f" id='{escape_attribute(message_id)}'"
    parts = [f"{head} to='{escape_attribute(room)}' type='groupchat'>"]
    config = ([Entry("operation", operation.value)] if operation else []) + list(entries)
    if config:
        parts.append(f"<x xmlns='{CONFIGURATION_NS}'>")
        parts.extend(text_element(e.name, e.value, encoded=e.encoded) for e in config)
        parts.append("</x>")
    if text is None:
        parts.append(text_element("body", body, encoded=True))
    else:
        parts.append(text_element("body", text))
    if reply_id:
        parts.append(
            f"<reply xmlns='urn:xmpp:reply:0' id='{escape_attribute(reply_id)}'"
            f" to='{escape_attribute(room)}'/>"
        )
    parts.append(forwarded)
    if store_hint:
        parts.append(STORE_HINT)
    parts.append("</message>")
    return "".join(parts)


def member_added(
    jids: Jids,
    room_id: UUID,
    sender_id: UUID,
    user_id: UUID,
    *,
    store_hint: bool = False,
    text: str | None = None,
) -> str:
    return message(
        jids,
        room_id=room_id,
        sender_id=sender_id,
        operation=Operation.MEMBER_ADDED,
        entries=[Entry("user-id", str(user_id))],
        store_hint=store_hint,
        text=text,
    )


def member_removed(
    jids: Jids,
    room_id: UUID,
    sender_id: UUID,
    user_id: UUID,
    *,
    store_hint: bool = False,
    text: str | None = None,
) -> str:
    return message(
        jids,
        room_id=room_id,
        sender_id=sender_id,
        operation=Operation.MEMBER_REMOVED,
        entries=[Entry("user-id", str(user_id))],
        store_hint=store_hint,
        text=text,
    )


def room_name_changed(
    jids: Jids, command: RoomNameChanged, *, store_hint: bool = False, text: str | None = None
) -> str:
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ROOM_NAME_CHANGED,
        entries=[Entry("value", command.name, encoded=True)],
        store_hint=store_hint,
        text=text,
    )


def room_description_changed(
    jids: Jids,
    command: RoomDescriptionChanged,
    *,
    store_hint: bool = False,
    text: str | None = None,
) -> str:
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ROOM_DESCRIPTION_CHANGED,
        entries=[Entry("value", command.description, encoded=True)],
        store_hint=store_hint,
        text=text,
    )


def room_picture_updated(
    jids: Jids, command: RoomPictureUpdated, *, store_hint: bool = False, text: str | None = None
) -> str:
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ROOM_PICTURE_UPDATED,
        entries=[
            Entry("picture-id", str(command.picture_id)),
            Entry("picture-name", command.picture_name, encoded=True),
        ],
        store_hint=store_hint,
        text=text,
    )


def room_picture_deleted(
    jids: Jids, command: RoomPictureDeleted, *, store_hint: bool = False, text: str | None = None
) -> str:
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ROOM_PICTURE_DELETED,
        store_hint=store_hint,
        text=text,
    )


def attachment_entries(
    attachment_id: UUID, file_name: str, mime_type: str, size: int, area: str | None = None
) -> list[Entry]:
    """The `attachmentAdded` configuration (without the operation)."""
    entries = [
        Entry("attachment-id", str(attachment_id)),
        Entry("filename", file_name, encoded=True),
        Entry("mime-type", mime_type),
        Entry("size", str(size)),
    ]
    if area:
        entries.append(Entry("area", area))
    return entries


def attachment_added(
    jids: Jids, command: AttachmentAdded, *, store_hint: bool = False, text: str | None = None
) -> str:
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ATTACHMENT_ADDED,
        entries=attachment_entries(
            command.attachment_id,
            command.file_name,
            command.mime_type,
            command.size,
            command.area,
        ),
        body=command.description,
        message_id=command.message_id,
        reply_id=command.reply_id,
        store_hint=store_hint,
        text=text,
    )
