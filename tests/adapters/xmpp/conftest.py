"""Fixtures for the ejabberd tests: the private instance of scripts/ejabberd.sh, its admin API,
registered users and logged-in XMPP clients.

The session stops the instance it started, so no test instance is left on the default ports
for `scripts/serve.sh` to run into. One already running from the same WSC_EJABBERD_DIR when the
session began (shared on purpose) is reused and left running. Every test uses fresh random ids,
so state left by earlier tests or runs does not matter.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from tests.support.xmpp import HOST, AdminApi
from wschats.adapters.xmpp import EjabberdMessageDispatcher
from wschats.devtools.xmpp_client import XmppUser

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ejabberd.sh"


@dataclass(frozen=True)
class Ejabberd:
    api_url: str
    c2s_port: int


@pytest.fixture(scope="session")
def ejabberd() -> Iterator[Ejabberd]:
    http_port = int(os.environ.get("WSC_EJABBERD_HTTP_PORT", "15280"))
    c2s_port = int(os.environ.get("WSC_EJABBERD_C2S_PORT", "15222"))
    env = {**os.environ, "WSC_EJABBERD_FRESH": "1"}  # a throw-away instance
    # Bounded: the first run may install the package (about 20 s measured).
    started = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert started.returncode == 0, f"ejabberd did not start:\n{started.stdout}{started.stderr}"
    # Decided by the script under its lock: "already running" is an instance someone else
    # started from this directory, theirs to stop.
    ours = not started.stdout.startswith("ejabberd already running")
    yield Ejabberd(api_url=f"http://127.0.0.1:{http_port}/api", c2s_port=c2s_port)
    if ours:
        stopped = subprocess.run(
            [str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert stopped.returncode == 0, f"ejabberd did not stop:\n{stopped.stdout}{stopped.stderr}"


@pytest.fixture
async def admin(ejabberd: Ejabberd) -> AsyncIterator[AdminApi]:
    api = AdminApi(ejabberd.api_url)
    yield api
    await api.close()


@pytest.fixture
async def dispatcher(ejabberd: Ejabberd) -> AsyncIterator[EjabberdMessageDispatcher]:
    dispatcher = EjabberdMessageDispatcher(ejabberd.api_url, host=HOST, timeout=5)
    yield dispatcher
    await dispatcher.close()


@dataclass(frozen=True)
class User:
    id: UUID
    password: str

    @property
    def jid(self) -> str:
        return f"{self.id}@{HOST}"


@pytest.fixture
def new_user(admin: AdminApi) -> Callable[[], Awaitable[User]]:
    """A user registered with a known password, so a client can log in as them."""

    async def create() -> User:
        user = User(uuid4(), secrets.token_urlsafe(12))
        await admin.ok("register", user=str(user.id), host=HOST, password=user.password)
        return user

    return create


@pytest.fixture
async def login(ejabberd: Ejabberd) -> AsyncIterator[Callable[[User], Awaitable[XmppUser]]]:
    clients: list[XmppUser] = []

    async def connect(user: User) -> XmppUser:
        client = XmppUser(user.jid, user.password, ejabberd.c2s_port)
        clients.append(client)
        await client.login()
        return client

    yield connect
    for client in clients:
        await client.close()
