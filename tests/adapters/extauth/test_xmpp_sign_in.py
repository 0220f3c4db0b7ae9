"""People sign in to a real ejabberd with their wschats credentials (a real slixmpp client).

ejabberd runs as scripts/ejabberd.sh configures it, a throw-away instance on free ports whose
sign-in program (`wschats xmpp-auth`) reads this module's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from slixmpp import JID
from sqlalchemy import create_engine, update

from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity, token_hash
from wschats.adapters.xmpp import EjabberdMessageDispatcher
from wschats.devtools.servers import free_port
from wschats.devtools.xmpp_client import XmppUser
from wschats.domain.messaging import CreateRoom
from wschats.domain.time import utc_now
from wschats.ports import NewUser

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ejabberd.sh"
HOST = "carbonio"


@dataclass
class Instance:
    directory: Path
    c2s_port: int
    http_port: int
    database_url: str

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api"

    def run(self, command: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
        env.update(
            WSC_EJABBERD_DIR=str(self.directory),
            WSC_EJABBERD_C2S_PORT=str(self.c2s_port),
            WSC_EJABBERD_HTTP_PORT=str(self.http_port),
            WSC_EJABBERD_FRESH="1",
            WSC_DATABASE_URL=self.database_url,
            WSC_DATA_DIR=str(self.directory.parent),
            # The wschats under test, whatever PATH says.
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        done = subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"ejabberd {command}: {done.stdout}{done.stderr}"
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    root = tmp_path_factory.mktemp("signin")
    url = f"sqlite:///{root / 'wschats.db'}"
    upgrade(url)
    server = Instance(root / "ejabberd", free_port(), free_port(), url)
    server.run("start")
    yield server
    server.run("stop")


@dataclass
class Person:
    id: UUID
    password: str
    token: str

    @property
    def jid(self) -> str:
        return f"{self.id}@{HOST}"


@dataclass
class World:
    instance: Instance
    directory: DirectoryIdentity

    async def person(self, password: str | None = "correct horse: battery") -> Person:
        user_id = uuid.uuid4()
        await self.directory.add_users(
            [NewUser(id=user_id, email=f"{user_id}@x.io", name="P", password=password)]
        )
        token = await self.directory.issue_token(user_id, 3600)
        return Person(user_id, password or "", token)

    async def signs_in(self, jid: str, password: str) -> bool:
        client = XmppUser(jid, password, self.instance.c2s_port)
        try:
            await client.login()
            return True
        except AssertionError:  # failed_auth
            return False
        finally:
            await client.close()

    def expire(self, token: str) -> None:
        engine = create_engine(self.instance.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(t.directory_token)
                    .where(t.directory_token.c.token_hash == token_hash(token))
                    .values(expires_at=utc_now() - timedelta(seconds=1))
                )
        finally:
            engine.dispose()


@pytest.fixture
async def world(instance: Instance) -> AsyncIterator[World]:
    database = SqlDatabase(instance.database_url)
    yield World(instance, DirectoryIdentity(database))
    await database.close()


async def test_sign_in_with_a_token_or_the_own_password(world: World) -> None:
    alice, bob = await world.person(), await world.person()
    assert await world.signs_in(alice.jid, alice.token)
    assert await world.signs_in(alice.jid, alice.password)
    assert not await world.signs_in(alice.jid, bob.token)
    assert not await world.signs_in(alice.jid, alice.password + "!")
    assert not await world.signs_in(f"{uuid.uuid4()}@{HOST}", alice.token)  # unknown user


async def test_revoked_disabled_and_expired_stop_signing_in_at_once(world: World) -> None:
    alice, bob, carol = [await world.person() for _ in range(3)]
    for person in (alice, bob, carol):
        assert await world.signs_in(person.jid, person.token)

    assert await world.directory.revoke_token(alice.token)
    assert not await world.signs_in(alice.jid, alice.token)  # ejabberd keeps no cache

    world.expire(bob.token)
    assert not await world.signs_in(bob.jid, bob.token)

    await world.directory.disable(carol.id)
    assert not await world.signs_in(carol.jid, carol.token)
    assert not await world.signs_in(carol.jid, carol.password)


async def test_members_of_a_room_exist_without_registration_and_can_talk(world: World) -> None:
    """Affiliations and subscriptions work for accounts ejabberd only knows from wschats."""
    alice, bob = await world.person(), await world.person()
    room = uuid.uuid4()
    dispatcher = EjabberdMessageDispatcher(world.instance.api_url, host=HOST)
    try:
        await dispatcher.deliver(CreateRoom(room_id=room, owner_id=alice.id, member_ids=(bob.id,)))
    finally:
        await dispatcher.close()
    async with httpx.AsyncClient(base_url=world.instance.api_url + "/") as admin:
        for person in (alice, bob):
            checked = await admin.post("check_account", json={"user": str(person.id), "host": HOST})
            assert checked.json() == 0, checked.text  # 0: the account exists
        internal = (await admin.post("registered_users", json={"host": HOST})).json()
        assert str(alice.id) not in internal and str(bob.id) not in internal  # wschats' only
    alice_xmpp = XmppUser(alice.jid, alice.token, world.instance.c2s_port)
    bob_xmpp = XmppUser(bob.jid, bob.password, world.instance.c2s_port)
    try:
        await alice_xmpp.login()
        await bob_xmpp.login()
        room_jid = f"{room}@muclight.{HOST}"
        await alice_xmpp.join(room_jid, alice.jid)
        alice_xmpp.client.send_message(mto=JID(room_jid), mbody="hello Bob", mtype="groupchat")
        received = await bob_xmpp.until(
            lambda r: r.message.findtext("{jabber:client}body") == "hello Bob"
        )
        assert received[-1].kind == "mucsub"
    finally:
        await alice_xmpp.close()
        await bob_xmpp.close()
