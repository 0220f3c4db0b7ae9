"""wschats with ejabberd, as XMPP users see it: the XMPP domain's names, ejabberd's admin API,
the wait for the outbox, and the `World` of the realtime XMPP tests (wschats in this process,
its people registered in a private ejabberd and logged in with real XMPP clients). The fixtures
that build them are in tests/realtime/conftest.py and tests/adapters/xmpp/conftest.py; a test
that replaces an adapter opens its own with `open_world`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

from wschats.adapters.db.migrate import upgrade
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.devtools.app import running_app
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.xmpp_client import XmppUser
from wschats.ports import NewUser

HOST = "carbonio"
MUC = f"muclight.{HOST}"
CONFIG = "{urn:xmpp:muclight:0#configuration}"


class AdminApi:
    """Direct mod_http_api calls, to arrange tests and to check the server's state."""

    def __init__(self, api_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=api_url + "/", timeout=10)

    async def __call__(self, command: str, **body: Any) -> Any:
        response = await self._client.post(command, json=body)
        return response.status_code, response.json()

    async def ok(self, command: str, **body: Any) -> Any:
        status, result = await self(command, **body)
        assert status == 200, f"{command}: {status} {result}"
        return result

    async def eventually(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Poll `check` until it holds, for at most 10 s: some commands (destroy_room) return
        before ejabberd's room process has stopped."""
        async with asyncio.timeout(10):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self._client.aclose()


async def until_outbox_empty(adapters: Adapters, limit: float = 90.0) -> None:
    """Wait (bounded) until every recorded command has been delivered."""
    for _ in range(int(limit / 0.2)):
        if (await adapters.outbox.backlog())[0] == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the outbox was not delivered in time")


@dataclass
class Person:
    id: UUID
    name: str
    token: str
    xmpp_password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def jid(self) -> str:
        return f"{self.id}@{HOST}"


@dataclass
class World:
    """wschats (ASGI, in this process) delivering to a private ejabberd."""

    adapters: Adapters
    client: httpx.AsyncClient
    ejabberd: PrivateEjabberd
    settings: Settings
    admin: AdminApi
    clients: list[XmppUser] = field(default_factory=list)

    async def person(self, name: str = "P") -> Person:
        directory = self.adapters.directory
        assert directory is not None
        user_id = uuid4()
        await directory.add_users([NewUser(id=user_id, email=f"{user_id}@x.io", name=name)])
        person = Person(
            user_id, name, await directory.issue_token(user_id, 3600), secrets.token_urlsafe(12)
        )
        await self.register(person)
        return person

    async def register(self, person: Person) -> None:
        """A password for the test client (sign-in with wschats credentials is tested
        with `wschats xmpp-auth`)."""
        status, _ = await self.admin(
            "register", user=str(person.id), host=HOST, password=person.xmpp_password
        )
        if status != 200:
            await self.admin.ok(
                "change_password", user=str(person.id), host=HOST, newpass=person.xmpp_password
            )

    async def login(self, person: Person) -> XmppUser:
        """A logged-in client, closed at the end of the test."""
        client = XmppUser(person.jid, person.xmpp_password, self.ejabberd.c2s_port)
        client.client.register_plugin("xep_0060")
        self.clients.append(client)
        await client.login()
        return client

    async def create(self, owner: Person, **room: Any) -> str:
        """A room created over HTTP, once its commands reached ejabberd."""
        created = await self.client.post("/rooms", headers=owner.headers, json=room)
        assert created.status_code == 201, created.text
        await self.delivered()
        return str(created.json()["id"])

    async def delivered(self) -> None:
        await until_outbox_empty(self.adapters)

    async def options(self, room_id: str) -> dict[str, str]:
        return dict(await self.admin.ok("get_room_options", name=room_id, service=MUC))


@asynccontextmanager
async def open_world(
    ejabberd: PrivateEjabberd, tmp_path: Path, **overrides: Any
) -> AsyncIterator[World]:
    """wschats on its own SQLite database in `tmp_path`, delivering to `ejabberd`; `overrides`
    replace adapters (see `wschats.devtools.app`). Its XMPP clients are closed on the way out."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    settings = Settings(
        data_dir=tmp_path, database_url=url, xmpp="ejabberd", xmpp_url=ejabberd.api_url
    )
    admin = AdminApi(ejabberd.api_url)
    try:
        async with running_app(settings, **overrides) as running, running.client() as client:
            world = World(running.adapters, client, ejabberd, settings, admin)
            try:
                yield world
            finally:
                for xmpp in world.clients:
                    await xmpp.close()
    finally:
        await admin.close()
