"""Room changes reach the chat server through the outbox: a real ejabberd, a real XMPP client.

A private ejabberd (own state directory and ports) is used so it can be stopped and started
without disturbing other tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.adapters.xmpp.graphql_endpoint import graphql_endpoint
from tests.support.xmpp import CONFIG, HOST, World, until_outbox_empty
from wschats.adapters.db.migrate import upgrade
from wschats.config import Settings
from wschats.devtools.app import running_app
from wschats.devtools.xmpp_client import XmppUser
from wschats.domain.escapes import encode_text
from wschats.ports import NewUser


def config(message: ET.Element) -> dict[str, Any]:
    x = message.find(f"{CONFIG}x")
    assert x is not None, ET.tostring(message)
    children = list(x)
    assert children[0].tag == f"{CONFIG}operation"  # the operation always comes first
    return {c.tag.removeprefix(CONFIG): (c.text or "", c.get("encoded")) for c in children}


async def system_messages(client: XmppUser, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        received = await client.next()
        if received.message.find(f"{CONFIG}x") is not None:
            found.append({"from": received.message.get("from"), **config(received.message)})
    return found


async def test_room_changes_arrive_as_system_messages(world: World) -> None:
    alice, bob, carol, dave = [await world.person() for _ in range(4)]
    bob_xmpp = await world.login(bob)
    try:
        created = await world.client.post(
            "/rooms",
            headers=alice.headers,
            json={"type": "group", "name": "g", "membersIds": [str(bob.id), str(carol.id)]},
        )
        assert created.status_code == 201
        room_id = created.json()["id"]
        added = await system_messages(bob_xmpp, 2)
        assert [m["user-id"][0] for m in added] == [str(bob.id), str(carol.id)]
        assert {m["operation"][0] for m in added} == {"memberAdded"}

        name = "Tëst 😀"
        renamed = await world.client.put(
            f"/rooms/{room_id}", headers=alice.headers, json={"name": name, "description": "d"}
        )
        assert renamed.status_code == 200
        changes = await system_messages(bob_xmpp, 2)
        assert changes[0]["operation"][0] == "roomNameChanged"
        assert changes[0]["value"] == (encode_text(name), "UTF-8")  # emoji as surrogate pairs
        assert changes[0]["from"].endswith(f"/{alice.id}@{HOST}")
        assert changes[1]["operation"][0] == "roomDescriptionChanged"
        assert changes[1]["value"] == (encode_text("d"), "UTF-8")

        add = await world.client.post(
            f"/rooms/{room_id}/members",
            headers=alice.headers,
            json={"userId": str(dave.id), "owner": False, "historyCleared": False},
        )
        assert add.status_code == 201
        (joined,) = await system_messages(bob_xmpp, 1)
        assert (joined["operation"][0], joined["user-id"][0]) == ("memberAdded", str(dave.id))

        kick = await world.client.delete(
            f"/rooms/{room_id}/members/{carol.id}", headers=alice.headers
        )
        assert kick.status_code == 204
        (left,) = await system_messages(bob_xmpp, 1)
        assert (left["operation"][0], left["user-id"][0]) == ("memberRemoved", str(carol.id))
        assert left["from"].endswith(f"/{alice.id}@{HOST}")  # the first owner
    finally:
        await bob_xmpp.close()


async def test_an_outage_delays_system_messages_but_loses_none(world: World) -> None:
    alice, bob, carol = [await world.person() for _ in range(3)]
    created = await world.client.post(
        "/rooms",
        headers=alice.headers,
        json={"type": "group", "name": "g", "membersIds": [str(bob.id), str(carol.id)]},
    )
    room_id = created.json()["id"]
    await world.delivered()

    world.ejabberd.stop()
    try:
        for name in ("one", "two", "three"):
            renamed = await world.client.put(
                f"/rooms/{room_id}", headers=alice.headers, json={"name": name}
            )
            assert renamed.status_code == 200  # the change itself never waits for XMPP
        # A short outage only delays system messages: wschats stays ready (docs/xmpp-rooms.md;
        # tests/adapters/xmpp/test_outbox_relay.py covers the outage that lasts).
        health = (await world.client.get("/health")).json()
        assert {"name": "xmpp_server", "isHealthy": True} in health["dependencies"]
    finally:
        world.ejabberd.start(keep=True)

    await world.delivered()
    bob_xmpp = await world.login(bob)
    try:
        archive = await bob_xmpp.archive(f"{room_id}@muclight.{HOST}")
        names = [
            config(m)["value"][0]
            for m in archive
            if m.find(f"{CONFIG}x") is not None and config(m)["operation"][0] == "roomNameChanged"
        ]
        assert names == [encode_text(n) for n in ("one", "two", "three")]
    finally:
        await bob_xmpp.close()
    health = (await world.client.get("/health")).json()
    assert {"name": "xmpp_server", "isHealthy": True} in health["dependencies"]


async def test_the_original_graphql_calls_reach_mongooseim(tmp_path: Path) -> None:
    """MongooseIM cannot be installed here: a recording endpoint checks the exact requests."""
    with graphql_endpoint() as endpoint:
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        upgrade(url)
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            xmpp="mongooseim",
            xmpp_url=endpoint.url,
            xmpp_username="admin",
            xmpp_password="secret",
        )
        async with running_app(settings) as running, running.client() as client:
            directory = running.adapters.directory
            assert directory is not None
            alice, bob, carol = await directory.add_users(
                [NewUser(email=f"{n}@x.io", name=n) for n in ("a", "b", "c")]
            )
            token = await directory.issue_token(alice, 60)
            created = await client.post(
                "/rooms",
                headers={"Authorization": f"Bearer {token}"},
                json={"type": "group", "name": "g", "membersIds": [str(bob), str(carol)]},
            )
            room = created.json()["id"]
            await until_outbox_empty(running.adapters)
        posts = [r for r in endpoint.requests if r.method == "POST"]
        assert posts[0].body == (
            b'{"query":"mutation muc_light { muc_light { createRoom (mucDomain: '
            b'\\"muclight.carbonio\\", id: \\"' + room.encode() + b'\\", owner: \\"'
            + str(alice).encode() + b'@carbonio\\") { jid } } }","operationName":"muc_light",'
            b'"variables":{}}'
        )  # fmt: skip
        assert posts[0].headers["authorization"] == "Basic YWRtaW46c2VjcmV0"
        invites = [p.body for p in posts if b"inviteUser" in p.body]
        assert [str(bob).encode() in invites[0], str(carol).encode() in invites[1]] == [True, True]
        stanzas = [p.body for p in posts if b"sendStanza" in p.body]
        assert len(stanzas) == 2 and all(b"memberAdded" in s for s in stanzas)
