"""EjabberdMessageDispatcher against the real ejabberd, observed by real XMPP clients."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.adapters.xmpp.conftest import Ejabberd, User
from tests.support.xmpp import HOST, MUC, AdminApi
from wschats.adapters.xmpp import EjabberdMessageDispatcher
from wschats.devtools.xmpp_client import CLIENT, Received, XmppUser
from wschats.domain.errors import Dependency, DependencyFailed
from wschats.domain.messaging import (
    AddContacts,
    AddRoomMember,
    AttachmentAdded,
    CreateRoom,
    DeleteRoom,
    ForwardedAttachment,
    ForwardMessage,
    MessagingCommand,
    RemoveRoomMember,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
)

NewUser = Callable[[], Awaitable[User]]
Login = Callable[[User], Awaitable[XmppUser]]
CONFIG_NS = "urn:xmpp:muclight:0#configuration"
MUC_USER = "{http://jabber.org/protocol/muc#user}"


def room_jid(room_id: UUID) -> str:
    return f"{room_id}@{MUC}"


def shape(element: ET.Element) -> tuple[Any, ...]:
    """An element's tag, attributes, text and children: equal shapes are equal XML."""
    return (
        element.tag,
        sorted(element.attrib.items()),
        element.text or "",
        [shape(child) for child in element],
    )


def assert_carries(received: ET.Element, expected_stanza: str) -> None:
    """`received` holds each child of `expected_stanza` exactly, and its configuration `x`
    (if any) is the first `x` of the message, where clients look for it."""
    expected = ET.fromstring(expected_stanza)
    for child in expected:
        found = received.find(child.tag)
        assert found is not None, f"{child.tag} missing from {ET.tostring(received)!r}"
        if child.tag == f"{CLIENT}body":
            # ejabberd decodes a message's own <body> into its record and drops unknown
            # attributes, so `encoded='UTF-8'` does not survive there; the text does.
            child.attrib.pop("encoded", None)
        assert shape(found) == shape(child)
    if expected.find(f"{{{CONFIG_NS}}}x") is not None:
        first_x = next(e for e in received.iter() if e.tag.endswith("}x"))
        assert first_x.tag == f"{{{CONFIG_NS}}}x"
    if expected.get("id") is not None:
        assert received.get("id") == expected.get("id")


def is_operation(operation: str) -> Callable[[Received], bool]:
    def matches(received: Received) -> bool:
        return received.message.findtext(f"{{{CONFIG_NS}}}x/{{{CONFIG_NS}}}operation") == (
            operation
        )

    return matches


def system_message(room_id: UUID, sender: User, config: str, body: str = "<body/>") -> str:
    """The stanza the original sends, in the original's own notation."""
    return (
        f"<message xmlns='jabber:client' from='{sender.jid}' to='{room_jid(room_id)}' "
        f"type='groupchat'><x xmlns='{CONFIG_NS}'>{config}</x>{body}</message>"
    )


async def make_room(dispatcher: EjabberdMessageDispatcher, owner: User, *members: User) -> UUID:
    room_id = uuid4()
    await dispatcher.deliver(CreateRoom(room_id, owner.id, tuple(m.id for m in members)))
    return room_id


async def skip_announcements(client: XmppUser, *members: User) -> None:
    """Consume the `memberAdded` messages of the room's creation (the newest is the last)."""
    last = str(members[-1].id)
    await client.until(
        lambda r: r.message.findtext(f"{{{CONFIG_NS}}}x/{{{CONFIG_NS}}}user-id") == last
    )


async def test_creating_a_room_makes_members_subscribers_and_announces_each(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser, login: Login
) -> None:
    owner, alice, bob = await new_user(), await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice, bob)

    first, second = await alice_client.next(), await alice_client.next()
    for received, member in ((first, alice), (second, bob)):
        assert received.kind == "mucsub"
        assert received.message.get("type") == "groupchat"
        # The sender is visible as in MUC Light: <room>/<userId>@carbonio.
        assert received.message.get("from") == f"{room_jid(room_id)}/{owner.jid}"
        assert_carries(
            received.message,
            system_message(
                room_id,
                owner,
                f"<operation>memberAdded</operation><user-id>{member.id}</user-id>",
                # Without names given, the readable line names users by id.
                f"<body>{owner.id} added {member.id}</body>",
            ),
        )

    room = {"name": str(room_id), "service": MUC}
    affiliations = await admin.ok("get_room_affiliations", **room)
    assert sorted((a["username"], a["affiliation"]) for a in affiliations) == sorted(
        [(str(owner.id), "owner"), (str(alice.id), "member"), (str(bob.id), "member")]
    )
    assert sorted(await admin.ok("get_subscribers", **room)) == sorted(
        [owner.jid, alice.jid, bob.jid]
    )
    options = await admin.ok("get_room_options", **room)
    assert {k: options[k] for k in ("members_only", "persistent", "mam", "public")} == {
        "members_only": "true",
        "persistent": "true",
        "mam": "true",
        "public": "false",
    }


async def test_members_unknown_to_ejabberd_are_registered(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser
) -> None:
    owner = await new_user()
    stranger = User(uuid4(), "unused")
    assert await admin.ok("check_account", user=str(stranger.id), host=HOST) == 1
    room_id = await make_room(dispatcher, owner, stranger)
    assert await admin.ok("check_account", user=str(stranger.id), host=HOST) == 0
    assert stranger.jid in await admin.ok("get_subscribers", name=str(room_id), service=MUC)


async def test_delivering_room_creation_twice_announces_members_once(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = uuid4()
    command = CreateRoom(room_id, owner.id, (alice.id,))
    await dispatcher.deliver(command)
    await dispatcher.deliver(command)
    await dispatcher.deliver(RoomPictureDeleted(room_id, owner.id))  # a marker after both

    seen = await alice_client.until(is_operation("roomPictureDeleted"))
    assert [is_operation("memberAdded")(r) for r in seen] == [True, False]


async def test_adding_a_member_subscribes_and_announces_once(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser, login: Login
) -> None:
    owner, alice, carol = await new_user(), await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)
    carol_client = await login(carol)

    command = AddRoomMember(room_id, alice.id, carol.id)
    await dispatcher.deliver(command)
    await dispatcher.deliver(command)
    await dispatcher.deliver(RoomPictureDeleted(room_id, owner.id))

    expected = system_message(
        room_id,
        alice,
        f"<operation>memberAdded</operation><user-id>{carol.id}</user-id>",
        f"<body>{alice.id} added {carol.id}</body>",
    )
    for client in (alice_client, carol_client):
        seen = await client.until(is_operation("roomPictureDeleted"))
        assert [is_operation("memberAdded")(r) for r in seen] == [True, False]
        assert seen[0].message.get("from") == f"{room_jid(room_id)}/{alice.jid}"
        assert_carries(seen[0].message, expected)
    affiliations = await admin.ok("get_room_affiliations", name=str(room_id), service=MUC)
    assert {"username": str(carol.id), "domain": HOST, "affiliation": "member", "reason": ""} in (
        affiliations
    )


async def test_adding_a_member_to_a_room_ejabberd_does_not_have_fails(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser
) -> None:
    alice, bob = await new_user(), await new_user()
    with pytest.raises(DependencyFailed) as failure:
        await dispatcher.deliver(AddRoomMember(uuid4(), alice.id, bob.id))
    assert failure.value.dependency is Dependency.XMPP


SYSTEM_MESSAGES: list[tuple[str, Callable[[UUID, UUID], MessagingCommand], str, str]] = [
    (
        "name with emoji",
        lambda room, sender: RoomNameChanged(room, sender, "Ça 😀"),
        "<operation>roomNameChanged</operation>"
        "<value encoded='UTF-8'>\\u00c7\\u0061\\u0020\\ud83d\\ude00</value>",
        "<body>{sender} renamed the room to “Ça 😀”</body>",
    ),
    (
        "empty description",
        lambda room, sender: RoomDescriptionChanged(room, sender, ""),
        "<operation>roomDescriptionChanged</operation><value/>",
        "<body>{sender} removed the room description</body>",
    ),
    (
        "picture updated",
        lambda room, sender: RoomPictureUpdated(
            room, sender, UUID("d3c2b1a0-9f8e-4d7c-8b6a-5a4f3e2d1c0b"), "p.png"
        ),
        "<operation>roomPictureUpdated</operation>"
        "<picture-id>d3c2b1a0-9f8e-4d7c-8b6a-5a4f3e2d1c0b</picture-id>"
        "<picture-name encoded='UTF-8'>\\u0070\\u002e\\u0070\\u006e\\u0067</picture-name>",
        "<body>{sender} changed the room picture</body>",
    ),
    (
        "picture deleted",
        lambda room, sender: RoomPictureDeleted(room, sender),
        "<operation>roomPictureDeleted</operation>",
        "<body>{sender} removed the room picture</body>",
    ),
]


@pytest.mark.parametrize(
    ("command", "config", "body"),
    [pytest.param(c, x, b, id=name) for name, c, x, b in SYSTEM_MESSAGES],
)
async def test_room_changes_reach_members_in_the_original_format(
    dispatcher: EjabberdMessageDispatcher,
    new_user: NewUser,
    login: Login,
    command: Callable[[UUID, UUID], MessagingCommand],
    config: str,
    body: str,
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)

    await dispatcher.deliver(command(room_id, owner.id))

    received = await alice_client.next()
    assert received.kind == "mucsub"
    assert received.message.get("from") == f"{room_jid(room_id)}/{owner.jid}"
    # The configuration element is the original's; the body a readable line, plain UTF-8.
    expected = system_message(room_id, owner, config, body.format(sender=owner.id))
    assert_carries(received.message, expected)


async def test_an_attachment_keeps_its_message_id_reply_and_description(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)
    file_id = uuid4()
    message_id = str(uuid4())

    await dispatcher.deliver(
        AttachmentAdded(
            room_id,
            owner.id,
            file_id,
            "peanuts.jpg",
            "image/jpg",
            33786,
            area="15x20",
            message_id=message_id,
            reply_id="1700000000000001",
            description="é!",
        )
    )

    received = await alice_client.next()
    assert received.message.get("id") == message_id
    assert_carries(
        received.message,
        f"<message xmlns='jabber:client' from='{owner.jid}' id='{message_id}' "
        f"to='{room_jid(room_id)}' type='groupchat'><x xmlns='{CONFIG_NS}'>"
        f"<operation>attachmentAdded</operation><attachment-id>{file_id}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0070\\u0065\\u0061\\u006e\\u0075\\u0074\\u0073\\u002e"
        "\\u006a\\u0070\\u0067</filename><mime-type>image/jpg</mime-type><size>33786</size>"
        f"<area>15x20</area></x><body>{owner.id} shared peanuts.jpg (33.8 kB)\né!</body>"
        f"<reply xmlns='urn:xmpp:reply:0' id='1700000000000001' to='{room_jid(room_id)}'/>"
        "</message>",
    )


async def test_a_forwarded_message_arrives_wrapped_with_count_delay_and_attachment(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)
    file_id = uuid4()

    await dispatcher.deliver(
        ForwardMessage(
            room_id,
            owner.id,
            "<message xmlns='jabber:client' from='old-room@muclight.carbonio/x@carbonio' "
            "id='m1' type='groupchat'><body>a < b</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
            "</message>",
            datetime(2023, 1, 1, tzinfo=UTC),
            description="fyi",
            attachment=ForwardedAttachment(file_id, "a.pdf", "application/pdf", 10),
        )
    )

    received = await alice_client.next()
    assert_carries(
        received.message,
        f"<message xmlns='jabber:client' from='{owner.jid}' to='{room_jid(room_id)}' "
        f"type='groupchat'><x xmlns='{CONFIG_NS}'><operation>attachmentAdded</operation>"
        f"<attachment-id>{file_id}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0061\\u002e\\u0070\\u0064\\u0066</filename>"
        "<mime-type>application/pdf</mime-type><size>10</size></x>"
        "<body>fyi</body>"
        "<forwarded xmlns='urn:xmpp:forward:0' count='1'>"
        "<delay xmlns='urn:xmpp:delay' stamp='2023-01-01T00:00:00Z'/>"
        "<message from='old-room@muclight.carbonio/x@carbonio' id='m1' type='groupchat'>"
        "<body encoded='UTF-8'>\\u0061\\u0020\\u003c\\u0020\\u0062</body></message>"
        "</forwarded></message>",
    )


async def test_a_joined_occupant_gets_the_plain_groupchat_message(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)
    await alice_client.join(room_jid(room_id), alice.jid)

    await dispatcher.deliver(RoomNameChanged(room_id, owner.id, "n"))

    [received] = [r for r in await alice_client.until(is_operation("roomNameChanged"))][-1:]
    assert received.kind == "groupchat"
    assert received.message.get("from") == f"{room_jid(room_id)}/{owner.jid}"
    assert_carries(
        received.message,
        system_message(
            room_id,
            owner,
            "<operation>roomNameChanged</operation><value encoded='UTF-8'>\\u006e</value>",
            f"<body>{owner.id} renamed the room to “n”</body>",
        ),
    )


async def test_system_messages_are_kept_in_the_room_archive(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice, bob = await new_user(), await new_user(), await new_user()
    room_id = await make_room(dispatcher, owner, alice)
    await dispatcher.deliver(AddRoomMember(room_id, owner.id, bob.id))
    bob_client = await login(bob)

    archive = await bob_client.archive(room_jid(room_id))

    assert [m.findtext(f"{{{CONFIG_NS}}}x/{{{CONFIG_NS}}}user-id") for m in archive] == [
        str(alice.id),
        str(bob.id),
    ]
    assert_carries(
        archive[1],
        system_message(
            room_id,
            owner,
            f"<operation>memberAdded</operation><user-id>{bob.id}</user-id>",
            f"<body>{owner.id} added {bob.id}</body>",
        ),
    )


async def test_a_removed_member_is_told_and_then_stops_receiving(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser, login: Login
) -> None:
    owner, alice, bob = await new_user(), await new_user(), await new_user()
    alice_client = await login(alice)
    bob_client = await login(bob)
    room_id = await make_room(dispatcher, owner, alice, bob)
    await skip_announcements(alice_client, alice, bob)
    await skip_announcements(bob_client, alice, bob)

    await dispatcher.deliver(RemoveRoomMember(room_id, owner.id, alice.id))

    expected = system_message(
        room_id,
        owner,
        f"<operation>memberRemoved</operation><user-id>{alice.id}</user-id>",
        f"<body>{owner.id} removed {alice.id}</body>",
    )
    for client in (alice_client, bob_client):
        received = await client.next()
        assert received.message.get("from") == f"{room_jid(room_id)}/{owner.jid}"
        assert_carries(received.message, expected)

    await dispatcher.deliver(RoomNameChanged(room_id, owner.id, "after"))
    assert is_operation("roomNameChanged")(await bob_client.next())
    # A direct message sent after the room message: Alice gets it and nothing before it.
    marker = f"marker {uuid4()}"
    await admin.ok(
        "send_message", type="chat", to=alice.jid, subject="", body=marker, **{"from": owner.jid}
    )
    seen = await alice_client.until(lambda r: r.message.findtext(f"{CLIENT}body") == marker)
    assert [r.kind for r in seen] == ["other"]

    room = {"name": str(room_id), "service": MUC}
    assert alice.jid not in await admin.ok("get_subscribers", **room)
    affiliations = await admin.ok("get_room_affiliations", **room)
    assert str(alice.id) not in [a["username"] for a in affiliations]


async def test_removing_again_or_from_a_missing_room_is_harmless(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice, bob = await new_user(), await new_user(), await new_user()
    bob_client = await login(bob)
    room_id = await make_room(dispatcher, owner, alice, bob)
    await skip_announcements(bob_client, alice, bob)

    command = RemoveRoomMember(room_id, owner.id, alice.id)
    await dispatcher.deliver(command)
    await dispatcher.deliver(command)
    await dispatcher.deliver(RemoveRoomMember(uuid4(), owner.id, alice.id))
    await dispatcher.deliver(RoomPictureDeleted(room_id, owner.id))

    seen = await bob_client.until(is_operation("roomPictureDeleted"))
    assert [is_operation("memberRemoved")(r) for r in seen] == [True, False]


async def test_a_member_leaving_can_be_the_sender_of_their_own_removal(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    owner_client = await login(owner)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(owner_client, alice)

    await dispatcher.deliver(RemoveRoomMember(room_id, alice.id, alice.id))

    received = await owner_client.next()
    assert received.message.get("from") == f"{room_jid(room_id)}/{alice.jid}"
    assert is_operation("memberRemoved")(received)


async def test_deleting_a_room_destroys_it_and_can_be_repeated(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)
    assert room_jid(room_id) in await admin.ok("muc_online_rooms", service="global")

    await dispatcher.deliver(DeleteRoom(room_id, owner.id))
    await dispatcher.deliver(DeleteRoom(room_id, owner.id))

    # Members are told through MUC/Sub (the room's configuration node).
    notice = await alice_client.next()
    assert notice.outer.get("from") == room_jid(room_id)
    assert notice.outer.find(f".//{MUC_USER}x/{MUC_USER}destroy") is not None

    # destroy_room answers before the room's process has stopped, so wait for it (bounded).
    async def room_gone() -> bool:
        return room_jid(room_id) not in await admin.ok("muc_online_rooms", service="global")

    await admin.eventually(room_gone)
    assert await admin("get_subscribers", name=str(room_id), service=MUC) == (
        400,
        "The room does not exist",
    )


async def test_one_to_one_members_become_mutual_contacts(
    dispatcher: EjabberdMessageDispatcher, admin: AdminApi, new_user: NewUser
) -> None:
    alice = await new_user()
    bob = User(uuid4(), "unused")  # not yet known to ejabberd

    await dispatcher.deliver(AddContacts(uuid4(), alice.id, bob.id))
    await dispatcher.deliver(AddContacts(uuid4(), alice.id, bob.id))

    for user, other in ((alice, bob), (bob, alice)):
        roster = await admin.ok("get_roster", user=str(user.id), host=HOST)
        assert [(item["jid"], item["subscription"]) for item in roster] == [(other.jid, "both")]


async def test_health(dispatcher: EjabberdMessageDispatcher) -> None:
    assert await dispatcher.health() is True


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_unhealthy_and_a_failed_dependency(
    ejabberd: Ejabberd,
) -> None:
    dispatcher = EjabberdMessageDispatcher(f"http://127.0.0.1:{closed_port()}/api", timeout=2)
    try:
        assert await dispatcher.health() is False
        with pytest.raises(DependencyFailed) as failure:
            await dispatcher.deliver(DeleteRoom(uuid4(), uuid4()))
        assert failure.value.dependency is Dependency.XMPP
    finally:
        await dispatcher.close()


async def test_a_forward_without_description_shows_the_forwarded_text(
    dispatcher: EjabberdMessageDispatcher, new_user: NewUser, login: Login
) -> None:
    owner, alice = await new_user(), await new_user()
    alice_client = await login(alice)
    room_id = await make_room(dispatcher, owner, alice)
    await skip_announcements(alice_client, alice)

    await dispatcher.deliver(
        ForwardMessage(
            room_id,
            owner.id,
            "<message xmlns='jabber:client' from='r@muclight.carbonio/x@carbonio' "
            "type='groupchat'><body encoded='UTF-8'>\\u00e0 &amp; b</body></message>",
            None,
        )
    )

    received = await alice_client.next()
    # Plain text for standard clients; the nested original keeps its encoded body.
    assert received.message.findtext(f"{CLIENT}body") == "à & b"
    inner = received.message.find("{urn:xmpp:forward:0}forwarded/{urn:xmpp:forward:0}message")
    assert inner is not None
    assert inner.findtext("{urn:xmpp:forward:0}body") == "\\u00e0 & b"
