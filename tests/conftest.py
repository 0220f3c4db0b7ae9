"""Shared fixtures: the app on SQLite and on PostgreSQL, users with tokens, event capture.

Every API test runs against both databases (the `backend` parameter). Every response that
goes through `api` is checked against the contract.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.contract import operation_for, validate_http_response
from tests.s3 import moto_server
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.tables import metadata
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.container import Container
from wschats.devtools.app import Running, running_app
from wschats.ports import EventStream, NewUser

PG_ADMIN_URL = os.environ.get("WSC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        conn.autocommit = True
        conn.execute(sql)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"wsc_test_{uuid.uuid4().hex[:12]}"
    _pg_admin_execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """http://127.0.0.1:<port> of a moto S3 server shared by the session."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


def database_url_for(backend: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp / 'wschats.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url = database_url_for(backend, request, data_dir)
    upgrade(url)
    return Settings(
        data_dir=data_dir,
        database_url=url,
        max_group_members=6,
        base_path="/services/chats",
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running(settings: Settings) -> AsyncIterator[Running]:
    """The app of `settings`, started once a session. A folder with settings of its own
    declares `running` again (a session fixture is reused, whatever folder asks for it);
    `app`, `container` and `adapters` follow the nearest one."""
    async with running_app(settings) as value:
        yield value


@pytest.fixture
def app(running: Running) -> FastAPI:
    return running.app


@pytest.fixture
def container(running: Running) -> Container:
    """The services, as the HTTP layer sees them."""
    return running.services


@pytest.fixture
def adapters(running: Running) -> Adapters:
    """The adapters behind the services: the test's way to arrange and inspect."""
    return running.adapters


@pytest_asyncio.fixture(loop_scope="session", autouse=False)
async def clean(adapters: Adapters) -> AsyncIterator[None]:
    yield
    # Empty every table after a test so the next starts from nothing.
    async with adapters.database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest_asyncio.fixture(loop_scope="session")
async def api_with(settings: Settings, clean: None) -> AsyncIterator[Any]:
    """Builds an app on the test database with other settings: `await api_with(**changes)`;
    `adapters={"previewer": ...}` replaces adapters (see wschats.devtools.app). Those apps
    stop before the tables are emptied."""
    async with AsyncExitStack() as stack:

        async def build(adapters: dict[str, Any] | None = None, **changes: Any) -> Api:
            changed = settings.model_copy(update=changes)
            other = await stack.enter_async_context(running_app(changed, **(adapters or {})))
            return Api(await stack.enter_async_context(other.client()))

        yield build


@dataclass
class User:
    id: uuid.UUID
    email: str
    name: str
    token: str


class Api:
    """An HTTP client that checks every contract response against the contract."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self,
        method: str,
        path: str,
        user: User | None = None,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if user is not None:
            all_headers.setdefault("Cookie", f"ZM_AUTH_TOKEN={user.token}")
        if json_body is not None:
            kwargs["content"] = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        self.client.cookies.clear()
        response = await self.client.request(method, path, headers=all_headers, **kwargs)
        if _in_contract(method, response.request.url.path):
            validate_http_response(response)
        return response

    async def get(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, user, **kw)

    async def post(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, user, **kw)

    async def put(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, user, **kw)

    async def delete(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, user, **kw)


def _in_contract(method: str, path: str) -> bool:
    try:
        operation_for(method, path)
    except AssertionError:
        return False
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def api(app: FastAPI, clean: None) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client)


@dataclass
class Users:
    adapters: Adapters
    created: list[User] = field(default_factory=list)

    async def new(self, name: str | None = None) -> User:
        name = name or f"user{len(self.created) + 1}"
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        directory = self.adapters.directory
        assert directory is not None
        (user_id,) = await directory.add_users([NewUser(email=email, name=name.title())])
        token = await directory.issue_token(user_id, 3600)
        user = User(id=user_id, email=email, name=name.title(), token=token)
        self.created.append(user)
        return user

    async def many(self, count: int) -> list[User]:
        return [await self.new() for _ in range(count)]


@pytest_asyncio.fixture(loop_scope="session")
async def users(adapters: Adapters, clean: None) -> Users:
    return Users(adapters)


class EventCapture:
    """Subscribes users to the event dispatcher and collects what reaches each of them."""

    def __init__(self, adapters: Adapters) -> None:
        self._adapters = adapters
        self._streams: dict[uuid.UUID, EventStream] = {}

    async def watch(self, *people: User) -> None:
        for person in people:
            self._streams[person.id] = await self._adapters.events.subscribe(
                person.id, uuid.uuid4()
            )

    async def received(self, person: User, settle: float = 0.05) -> list[dict[str, Any]]:
        """Everything delivered to `person` so far (waits briefly for stragglers)."""
        stream = self._streams[person.id]
        found: list[dict[str, Any]] = []
        while True:
            try:
                found.append(json.loads(await asyncio.wait_for(stream.next(), settle)))
            except TimeoutError:
                return found

    async def types(self, person: User) -> list[str]:
        return [e["type"] for e in await self.received(person)]

    async def close(self) -> None:
        for stream in self._streams.values():
            await stream.close()


@pytest_asyncio.fixture(loop_scope="session")
async def events(adapters: Adapters) -> AsyncIterator[EventCapture]:
    capture = EventCapture(adapters)
    yield capture
    await capture.close()
