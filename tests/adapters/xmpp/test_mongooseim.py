"""MongooseImMessageDispatcher: the original's GraphQL, byte for byte (behaviour.md)."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest

from tests.adapters.xmpp.graphql_endpoint import GraphQlEndpoint, graphql_endpoint
from wschats.adapters.xmpp import MongooseImMessageDispatcher
from wschats.domain.errors import Dependency, DependencyFailed
from wschats.domain.messaging import (
    AddContacts,
    AddRoomMember,
    AttachmentAdded,
    CreateRoom,
    DeleteRoom,
    ForwardedAttachment,
    ForwardMessage,
    RemoveRoomMember,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
)

ROOM = UUID("6c5a3a2e-3b0f-4a52-9c3e-0a8c8a1f0d11")
OWNER = UUID("8a1b7e2c-1d4f-4c7a-9e1b-2f3a4b5c6d7e")
ALICE = UUID("0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b")
BOB = UUID("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
FILE = UUID("d3c2b1a0-9f8e-4d7c-8b6a-5a4f3e2d1c0b")
AUTHORIZATION = "Basic " + base64.b64encode(b"admin:s3cret").decode()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[GraphQlEndpoint]:
    with graphql_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
async def dispatcher(endpoint: GraphQlEndpoint) -> AsyncIterator[MongooseImMessageDispatcher]:
    endpoint.reset()
    dispatcher = MongooseImMessageDispatcher(endpoint.url, "admin", "s3cret", 5.0)
    yield dispatcher
    await dispatcher.close()


def mutation(operation_name: str, query: str) -> bytes:
    """The body the original's Jackson wrote: compact, UTF-8, `"` and `\\` escaped."""
    escaped = query.replace("\\", "\\\\").replace('"', '\\"')
    return (f'{{"query":"{escaped}","operationName":"{operation_name}","variables":{{}}}}').encode()


def stanza_mutation(stanza: str) -> bytes:
    return mutation(
        "stanza", f'mutation stanza {{ stanza {{ sendStanza (stanza: """{stanza}""") {{ id }} }} }}'
    )


def member_added(sender: UUID, user: UUID) -> str:
    return (
        f"<message xmlns='jabber:client' from='{sender}@carbonio' "
        f"to='{ROOM}@muclight.carbonio' type='groupchat'>"
        "<x xmlns='urn:xmpp:muclight:0#configuration'><operation>memberAdded</operation>"
        f"<user-id>{user}</user-id></x><body/></message>"
    )


def bodies(endpoint: GraphQlEndpoint) -> list[bytes]:
    return [r.body for r in endpoint.requests]


async def test_every_call_is_a_json_post_with_basic_auth(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(DeleteRoom(ROOM, OWNER))
    [request] = endpoint.requests
    assert request.method == "POST"
    assert request.path == "/api/graphql"
    assert request.headers["authorization"] == AUTHORIZATION
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert request.body == (
        b'{"query":"mutation muc_light { muc_light { deleteRoom (room: \\"'
        + str(ROOM).encode()
        + b'@muclight.carbonio\\") } }","operationName":"muc_light","variables":{}}'
    )


async def test_create_room_then_invites_and_announces_each_member(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(CreateRoom(ROOM, OWNER, (ALICE, BOB)))
    assert bodies(endpoint) == [
        b'{"query":"mutation muc_light { muc_light { createRoom (mucDomain: '
        b'\\"muclight.carbonio\\", id: \\"'
        + str(ROOM).encode()
        + b'\\", owner: \\"'
        + str(OWNER).encode()
        + b'@carbonio\\") { jid } } }","operationName":"muc_light","variables":{}}',
        mutation(
            "muc_light",
            f'mutation muc_light {{ muc_light {{ inviteUser (room: "{ROOM}@muclight.carbonio", '
            f'sender: "{OWNER}@carbonio", recipient: "{ALICE}@carbonio") }} }}',
        ),
        stanza_mutation(member_added(OWNER, ALICE)),
        mutation(
            "muc_light",
            f'mutation muc_light {{ muc_light {{ inviteUser (room: "{ROOM}@muclight.carbonio", '
            f'sender: "{OWNER}@carbonio", recipient: "{BOB}@carbonio") }} }}',
        ),
        stanza_mutation(member_added(OWNER, BOB)),
    ]


async def test_add_member_invites_then_announces(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(AddRoomMember(ROOM, ALICE, BOB))
    assert bodies(endpoint) == [
        mutation(
            "muc_light",
            f'mutation muc_light {{ muc_light {{ inviteUser (room: "{ROOM}@muclight.carbonio", '
            f'sender: "{ALICE}@carbonio", recipient: "{BOB}@carbonio") }} }}',
        ),
        stanza_mutation(member_added(ALICE, BOB)),
    ]


async def test_remove_member_kicks_then_announces_from_the_given_sender(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(RemoveRoomMember(ROOM, OWNER, ALICE))
    assert bodies(endpoint) == [
        mutation(
            "muc_light",
            f'mutation muc_light {{ muc_light {{ kickUser (room: "{ROOM}@muclight.carbonio", '
            f'user: "{ALICE}@carbonio") }} }}',
        ),
        stanza_mutation(
            f"<message xmlns='jabber:client' from='{OWNER}@carbonio' "
            f"to='{ROOM}@muclight.carbonio' type='groupchat'>"
            "<x xmlns='urn:xmpp:muclight:0#configuration'><operation>memberRemoved</operation>"
            f"<user-id>{ALICE}</user-id></x><body/></message>"
        ),
    ]


async def test_contacts_are_a_mutual_roster_subscription(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(AddContacts(ROOM, ALICE, BOB))
    assert bodies(endpoint) == [
        b'{"query":"mutation roster { roster { setMutualSubscription (userA: \\"'
        + str(ALICE).encode()
        + b'@carbonio\\", userB: \\"'
        + str(BOB).encode()
        + b'@carbonio\\", action: CONNECT) } }","operationName":"roster","variables":{}}'
    ]


async def test_system_messages_travel_in_a_stanza_mutation_with_their_escapes_intact(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    await dispatcher.deliver(RoomNameChanged(ROOM, OWNER, "é😀"))
    [body] = bodies(endpoint)
    assert body == (
        b'{"query":"mutation stanza { stanza { sendStanza (stanza: \\"\\"\\"'
        b"<message xmlns='jabber:client' from='"
        + str(OWNER).encode()
        + b"@carbonio' to='"
        + str(ROOM).encode()
        + b"@muclight.carbonio' type='groupchat'>"
        b"<x xmlns='urn:xmpp:muclight:0#configuration'><operation>roomNameChanged</operation>"
        b"<value encoded='UTF-8'>\\\\u00e9\\\\ud83d\\\\ude00</value></x><body/></message>"
        b'\\"\\"\\") { id } } }","operationName":"stanza","variables":{}}'
    )
    # What the server reads back is the stanza with single backslashes.
    query = json.loads(body)["query"]
    assert "<value encoded='UTF-8'>\\u00e9\\ud83d\\ude00</value>" in query


async def test_each_system_message_command_sends_its_stanza(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    commands = [
        RoomDescriptionChanged(ROOM, OWNER, ""),
        RoomPictureUpdated(ROOM, OWNER, FILE, "p.png"),
        RoomPictureDeleted(ROOM, OWNER),
        AttachmentAdded(ROOM, OWNER, FILE, "a.txt", "text/plain", 3, "2x3", "m1", "r1", "d"),
        ForwardMessage(
            ROOM,
            OWNER,
            "<message from='a' to='b'><body>hi</body></message>",
            datetime(2023, 1, 1, tzinfo=UTC),
            attachment=ForwardedAttachment(FILE, "a.txt", "text/plain", 3),
        ),
    ]
    for command in commands:
        await dispatcher.deliver(command)
    queries = [json.loads(body)["query"] for body in bodies(endpoint)]
    assert [json.loads(body)["operationName"] for body in bodies(endpoint)] == ["stanza"] * 5
    assert "<operation>roomDescriptionChanged</operation><value/></x><body/>" in queries[0]
    assert f"<picture-id>{FILE}</picture-id>" in queries[1]
    assert "<operation>roomPictureDeleted</operation></x><body/>" in queries[2]
    assert f"from='{OWNER}@carbonio' id='m1' to=" in queries[3]
    assert "<area>2x3</area></x><body encoded='UTF-8'>\\u0064</body><reply " in queries[3]
    assert "<forwarded xmlns='urn:xmpp:forward:0' count='1'><delay " in queries[4]
    assert "<operation>attachmentAdded</operation>" in queries[4]


@pytest.mark.parametrize(
    ("status", "content_type", "answer"),
    [
        (200, "application/json", b'{"data":null,"errors":[{"message":"room not found"}]}'),
        (200, "text/html", b"<html>proxy error</html>"),
        (401, "application/json", b'{"errors":[{"message":"unauthorized"}]}'),
        (500, "text/plain", b"boom"),
    ],
)
async def test_errors_and_garbage_are_a_failed_xmpp_dependency(
    endpoint: GraphQlEndpoint,
    dispatcher: MongooseImMessageDispatcher,
    status: int,
    content_type: str,
    answer: bytes,
) -> None:
    endpoint.answer(status, answer, content_type)
    with pytest.raises(DependencyFailed) as failure:
        await dispatcher.deliver(RoomPictureDeleted(ROOM, OWNER))
    assert failure.value.dependency is Dependency.XMPP


async def test_a_failed_invite_stops_before_the_announcement(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    endpoint.answer(200, b'{"data":{"muc_light":null},"errors":[{"message":"no such room"}]}')
    with pytest.raises(DependencyFailed):
        await dispatcher.deliver(AddRoomMember(ROOM, ALICE, BOB))
    assert len(endpoint.requests) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_a_failed_xmpp_dependency() -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/graphql"
    dispatcher = MongooseImMessageDispatcher(url, "admin", "pw", 2.0)
    try:
        with pytest.raises(DependencyFailed) as failure:
            await dispatcher.deliver(DeleteRoom(ROOM, OWNER))
        assert failure.value.dependency is Dependency.XMPP
        assert await dispatcher.health() is False
    finally:
        await dispatcher.close()


async def test_health_is_the_check_auth_query(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher
) -> None:
    endpoint.answer(200, b'{"data":{"checkAuth":{"authStatus":"AUTHORIZED"}}}')
    assert await dispatcher.health() is True
    [request] = endpoint.requests
    assert request.method == "GET"
    assert request.headers["authorization"] == AUTHORIZATION
    url = urlsplit(request.path)
    assert url.path == "/api/graphql"
    assert parse_qs(url.query) == {"query": ["query checkAuth { checkAuth { authStatus } }"]}


@pytest.mark.parametrize(
    ("status", "answer"),
    [(200, b'{"errors":[{"message":"bad credentials"}]}'), (503, b"{}"), (200, b"not json")],
)
async def test_health_is_false_on_errors(
    endpoint: GraphQlEndpoint, dispatcher: MongooseImMessageDispatcher, status: int, answer: bytes
) -> None:
    endpoint.answer(status, answer)
    assert await dispatcher.health() is False
