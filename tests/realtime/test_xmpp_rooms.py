"""Rooms as a standard XMPP client sees them: wschats and a private ejabberd, observed by real
XMPP clients (slixmpp). Titles, readable system messages, bookmarks, roster names, history,
and rooms re-created after ejabberd lost them (docs/xmpp-rooms.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from slixmpp import JID
from slixmpp.exceptions import IqError

from tests.support.xmpp import CONFIG, HOST, MUC, World, open_world
from wschats.adapters.xmpp import EjabberdMessageDispatcher
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.servers import WSCHATS, free_port
from wschats.devtools.xmpp_client import CLIENT, Received, XmppUser
from wschats.domain.errors import Dependency, DependencyFailed

BOOKMARKS = "{storage:bookmarks}"
PUBSUB = "{http://jabber.org/protocol/pubsub}"


def body_of(received: Received) -> str:
    return received.message.findtext(f"{CLIENT}body") or ""


def operation(received: Received) -> str | None:
    return received.message.findtext(f"{CONFIG}x/{CONFIG}operation")


async def bodies_until(client: XmppUser, last_operation: str) -> list[str]:
    """The bodies of the system messages received, up to one with `last_operation`."""
    seen = await client.until(lambda r: operation(r) == last_operation)
    return [body_of(r) for r in seen if operation(r) is not None]


async def bookmarks(client: XmppUser) -> dict[str, tuple[str, str]]:
    """What a client finds in its bookmarks (XEP-0048 in PEP): room JID -> (name, autojoin)."""
    pubsub: Any = client.client.plugin["xep_0060"]
    try:
        result = await pubsub.get_items(JID(client.jid), "storage:bookmarks", timeout=10)
    except IqError:  # no bookmarks node at all
        return {}
    storage = result.xml.find(f"{PUBSUB}pubsub/{PUBSUB}items/{PUBSUB}item/{BOOKMARKS}storage")
    assert storage is not None, ET.tostring(result.xml)
    return {
        c.get("jid", ""): (c.get("name", ""), c.get("autojoin", ""))
        for c in storage.findall(f"{BOOKMARKS}conference")
    }


async def bookmark_becomes(client: XmppUser, room: str, expected: tuple[str, str]) -> None:
    """Bookmark names follow a rename shortly after its delivery (bounded wait)."""
    async with asyncio.timeout(10):
        while True:
            if (await bookmarks(client)).get(room) == expected:
                return
            await asyncio.sleep(0.1)


async def test_a_group_reads_well_and_a_removed_member_loses_it(world: World) -> None:
    alice, bob, carol = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
    )
    bob_xmpp = await world.login(bob)
    room_id = await world.create(
        alice,
        type="group",
        name="Q3 plans",
        description="What we do next",
        membersIds=[str(bob.id), str(carol.id)],
    )
    room = f"{room_id}@{MUC}"

    options = await world.options(room_id)
    assert (options["title"], options["description"]) == ("Q3 plans", "What we do next")
    assert await bodies_until(bob_xmpp, "memberAdded") == ["Alice added Bob"]
    # After sign-in a standard client lists the room without joining it by hand.
    assert (await bookmarks(bob_xmpp))[room] == ("Q3 plans", "true")

    renamed = await world.client.put(
        f"/rooms/{room_id}", headers=alice.headers, json={"name": "Q4 plans", "description": ""}
    )
    assert renamed.status_code == 200
    await world.delivered()
    options = await world.options(room_id)
    assert (options["title"], options["description"]) == ("Q4 plans", "")
    assert await bodies_until(bob_xmpp, "roomDescriptionChanged") == [
        "Alice added Carol",
        "Alice renamed the room to “Q4 plans”",
        "Alice removed the room description",
    ]
    await bookmark_becomes(bob_xmpp, room, ("Q4 plans", "true"))

    kicked = await world.client.delete(f"/rooms/{room_id}/members/{bob.id}", headers=alice.headers)
    assert kicked.status_code == 204
    await world.delivered()
    assert await bodies_until(bob_xmpp, "memberRemoved") == ["Alice removed Bob"]
    assert room not in await bookmarks(bob_xmpp)
    assert bob.jid not in await world.admin.ok("get_subscribers", name=room_id, service=MUC)
    affiliations = await world.admin.ok("get_room_affiliations", name=room_id, service=MUC)
    assert str(bob.id) not in {a["username"] for a in affiliations}

    left = await world.client.delete(f"/rooms/{room_id}/members/{carol.id}", headers=carol.headers)
    assert left.status_code == 204
    await world.delivered()
    archive = await (await world.login(alice)).archive(room)
    assert [m.findtext(f"{CLIENT}body") for m in archive][-1] == "Carol left"


async def test_channels_are_titled_with_their_workspace(world: World) -> None:
    alice, bob, carol = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
    )
    workspace_id = await world.create(
        alice, type="workspace", name="Sales", membersIds=[str(bob.id), str(carol.id)]
    )
    channel_id = await world.create(
        alice, type="channel", name="Leads", description="hot", parentId=workspace_id
    )
    assert (await world.options(channel_id))["title"] == "Sales / Leads"

    renamed = await world.client.put(
        f"/rooms/{workspace_id}", headers=alice.headers, json={"name": "Marketing"}
    )
    assert renamed.status_code == 200
    await world.delivered()
    options = await world.options(channel_id)
    assert (options["title"], options["description"]) == ("Marketing / Leads", "hot")
    bob_xmpp = await world.login(bob)
    await bookmark_becomes(bob_xmpp, f"{channel_id}@{MUC}", ("Marketing / Leads", "true"))


async def test_one_to_ones_show_the_other_persons_name(world: World) -> None:
    alice, bob = await world.person("Alice"), await world.person("Bob")
    room_id = await world.create(alice, type="one_to_one", membersIds=[str(bob.id)])

    for person, other in ((alice, bob), (bob, alice)):
        roster = await world.admin.ok("get_roster", user=str(person.id), host=HOST)
        assert [(i["jid"], i["nick"], i["subscription"]) for i in roster] == [
            (other.jid, other.name, "both")
        ]
        client = await world.login(person)
        assert (await bookmarks(client))[f"{room_id}@{MUC}"] == (other.name, "true")

    # Contacts see each other's presence, not each other's bookmarks (whitelist node).
    bob_xmpp = world.clients[-1]
    pubsub: Any = bob_xmpp.client.plugin["xep_0060"]
    with pytest.raises(IqError):
        await pubsub.get_items(JID(alice.jid), "storage:bookmarks", timeout=10)


async def test_members_talk_and_find_their_history_after_reconnecting(world: World) -> None:
    alice, bob, carol = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
    )
    room_id = await world.create(
        alice, type="group", name="Talk", membersIds=[str(bob.id), str(carol.id)]
    )
    room = f"{room_id}@{MUC}"
    alice_xmpp, bob_xmpp = await world.login(alice), await world.login(bob)
    # What a client does with an autojoin bookmark: join under the bookmark's nick.
    await alice_xmpp.join(room, alice.jid)
    await bob_xmpp.join(room, bob.jid)

    alice_xmpp.client.send_message(mto=JID(room), mbody="héllo Bob", mtype="groupchat")
    heard = await bob_xmpp.until(lambda r: body_of(r) == "héllo Bob")
    assert heard[-1].message.get("from") == f"{room}/{alice.jid}"
    bob_xmpp.client.send_message(mto=JID(room), mbody="hi Alice", mtype="groupchat")
    await alice_xmpp.until(lambda r: body_of(r) == "hi Alice")

    await bob_xmpp.close()
    again = await world.login(bob)
    history = [m.findtext(f"{CLIENT}body") for m in await again.archive(room)]
    assert history[-2:] == ["héllo Bob", "hi Alice"]
    assert history[:2] == ["Alice added Bob", "Alice added Carol"]


async def test_a_wiped_ejabberd_gets_the_room_back_and_the_message_arrives(world: World) -> None:
    alice, bob, carol = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
    )
    room_id = await world.create(
        alice, type="group", name="Kept", description="d", membersIds=[str(bob.id), str(carol.id)]
    )
    room = f"{room_id}@{MUC}"

    world.ejabberd.stop()
    shutil.rmtree(world.ejabberd.directory / "spool")
    world.ejabberd.start(keep=True)
    assert (await world.admin("get_room_affiliations", name=room_id, service=MUC))[0] == 400
    for person in (alice, bob, carol):
        await world.register(person)  # the accounts went with the spool
    bob_xmpp = await world.login(bob)

    renamed = await world.client.put(
        f"/rooms/{room_id}", headers=alice.headers, json={"name": "Back"}
    )
    assert renamed.status_code == 200
    await world.delivered()

    assert await bodies_until(bob_xmpp, "roomNameChanged") == ["Alice renamed the room to “Back”"]
    options = await world.options(room_id)
    assert (options["title"], options["description"]) == ("Back", "d")
    affiliations = await world.admin.ok("get_room_affiliations", name=room_id, service=MUC)
    assert sorted((a["username"], a["affiliation"]) for a in affiliations) == sorted(
        [(str(alice.id), "owner"), (str(bob.id), "member"), (str(carol.id), "member")]
    )
    await bookmark_becomes(bob_xmpp, room, ("Back", "true"))


def resync(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env |= {
        "WSC_DATA_DIR": str(world.settings.data_dir),
        "WSC_DATABASE_URL": str(world.settings.database_url),
        "WSC_XMPP": "ejabberd",
        "WSC_XMPP_URL": world.ejabberd.api_url,
    }
    return subprocess.run(
        [WSCHATS, "xmpp", "resync", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_xmpp_resync_repairs_and_reports_what_it_changed(world: World) -> None:
    alice, bob, carol = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
    )
    lost = await world.create(
        alice, type="group", name="Lost", membersIds=[str(bob.id), str(carol.id)]
    )
    drifted = await world.create(
        alice, type="group", name="Drifted", membersIds=[str(bob.id), str(carol.id)]
    )
    await world.admin.ok("destroy_room", name=lost, service=MUC)
    await world.admin.ok("change_room_option", name=drifted, service=MUC, option="title", value="x")
    await world.admin.ok("unsubscribe_room", user=carol.jid, room=f"{drifted}@{MUC}")

    one = resync(world, "--room", drifted)
    assert one.returncode == 0, one.stderr
    assert f"{drifted}: title “Drifted”" in one.stdout
    assert f"{drifted}: {carol.id} subscribed" in one.stdout
    assert lost not in one.stdout

    every = resync(world)
    assert every.returncode == 0, every.stderr
    assert f"{lost}: created" in every.stdout
    assert (await world.options(lost))["title"] == "Lost"
    assert carol.jid in await world.admin.ok("get_subscribers", name=drifted, service=MUC)

    again = resync(world, "--room", lost)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "nothing to change"


def test_xmpp_resync_explains_what_it_needs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env["WSC_DATA_DIR"] = str(tmp_path)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [WSCHATS, "xmpp", "resync", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    unset = run()
    assert unset.returncode == 1
    assert "resync needs WSC_XMPP=ejabberd and WSC_XMPP_URL" in unset.stderr
    bad_room = run("--room", "nope", WSC_XMPP="ejabberd", WSC_XMPP_URL="http://127.0.0.1:1/api")
    assert bad_room.returncode == 2
    assert "--room" in bad_room.stderr
    down = run(WSC_XMPP="ejabberd", WSC_XMPP_URL=f"http://127.0.0.1:{free_port()}/api")
    assert down.returncode == 1
    assert "Error: ejabberd" in down.stderr  # one line naming the failed call, no traceback
    assert "Traceback" not in down.stderr


async def test_changes_queued_while_ejabberd_was_wiped_are_all_announced(world: World) -> None:
    alice, bob, carol, dave = (
        await world.person("Alice"),
        await world.person("Bob"),
        await world.person("Carol"),
        await world.person("Dave"),
    )
    room_id = await world.create(
        alice, type="group", name="Queued", membersIds=[str(bob.id), str(carol.id)]
    )

    world.ejabberd.stop()
    shutil.rmtree(world.ejabberd.directory / "spool")
    try:
        renamed = await world.client.put(
            f"/rooms/{room_id}", headers=alice.headers, json={"name": "Queued 2"}
        )
        added = await world.client.post(
            f"/rooms/{room_id}/members",
            headers=alice.headers,
            json={"userId": str(dave.id), "owner": False, "historyCleared": False},
        )
        removed = await world.client.delete(
            f"/rooms/{room_id}/members/{carol.id}", headers=alice.headers
        )
        assert (renamed.status_code, added.status_code, removed.status_code) == (200, 201, 204)
    finally:
        world.ejabberd.start(keep=True)
    for person in (alice, bob, carol, dave):
        await world.register(person)
    bob_xmpp = await world.login(bob)
    await world.delivered()

    # The first command re-created the room with today's members; the two after it still
    # announce what they did, although the room already looked that way.
    assert await bodies_until(bob_xmpp, "memberRemoved") == [
        "Alice renamed the room to “Queued 2”",
        "Alice added Dave",
        "Alice removed Carol",
    ]
    subscribers = await world.admin.ok("get_subscribers", name=room_id, service=MUC)
    assert sorted(subscribers) == sorted([alice.jid, bob.jid, dave.jid])


class SlowToRetitle(EjabberdMessageDispatcher):
    """ejabberd whose next title changes raise `failures`, as under load."""

    def __init__(self, api_url: str) -> None:
        super().__init__(api_url)  # the defaults, as the settings of `open_world` say
        self.failures: list[DependencyFailed] = []

    async def set_appearance(
        self, room_id: UUID, *, title: str | None = None, description: str | None = None
    ) -> None:
        if self.failures:
            raise self.failures.pop()
        await super().set_appearance(room_id, title=title, description=description)


async def test_a_failed_title_update_does_not_send_the_rename_twice(
    ejabberd: PrivateEjabberd, tmp_path: Path
) -> None:
    slow = SlowToRetitle(ejabberd.api_url)
    try:
        async with open_world(ejabberd, tmp_path, chat_rooms=slow) as world:
            alice, bob, carol = (
                await world.person("Alice"),
                await world.person("Bob"),
                await world.person("Carol"),
            )
            room_id = await world.create(
                alice, type="group", name="Once", membersIds=[str(bob.id), str(carol.id)]
            )
            bob_xmpp = await world.login(bob)
            slow.failures.append(
                DependencyFailed(Dependency.XMPP, "ejabberd change_room_option timed out")
            )

            for name in ("Twice?", "Marker"):
                renamed = await world.client.put(
                    f"/rooms/{room_id}", headers=alice.headers, json={"name": name}
                )
                assert renamed.status_code == 200
            await world.delivered()

            seen = await bob_xmpp.until(lambda r: "“Marker”" in body_of(r))
            renames = [body_of(r) for r in seen if operation(r) == "roomNameChanged"]
            assert renames == [
                "Alice renamed the room to “Twice?”",
                "Alice renamed the room to “Marker”",
            ]
            assert not slow.failures  # the failure did happen
            assert (await world.options(room_id))["title"] == "Marker"
    finally:
        await slow.close()
