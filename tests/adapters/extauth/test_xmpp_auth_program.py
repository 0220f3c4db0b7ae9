"""`wschats xmpp-auth` as ejabberd runs it: a real process speaking the external
authentication protocol on its stdin/stdout, deciding on a real database."""

from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import create_engine, update

from tests.adapters.identity.user_management_endpoint import (
    nothing_listening,
    user_management_endpoint,
)
from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.extauth.protocol import MalformedRequest, parse
from wschats.adapters.identity.directory import DirectoryIdentity, token_hash
from wschats.devtools.servers import WSCHATS
from wschats.domain.model import Room, RoomType, Subscription
from wschats.domain.time import utc_now
from wschats.ports import NewUser

DOMAIN = "carbonio"
ANSWER_WAIT_S = 30.0  # a bound against a hang, not a speed requirement
PG_ADMIN_URL = os.environ.get("WSC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def frame(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


class AuthProgram:
    """One `wschats xmpp-auth` process, as ejabberd starts it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [WSCHATS, "xmpp-auth"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def answer(self) -> bool:
        stdout = self.process.stdout
        assert stdout is not None
        data = b""
        while len(data) < 4:
            ready, _, _ = select.select([stdout], [], [], ANSWER_WAIT_S)
            assert ready, f"no answer within {ANSWER_WAIT_S}s"
            chunk = os.read(stdout.fileno(), 4 - len(data))
            assert chunk, f"the program ended: {self.stop()}"
            data += chunk
        length, result = struct.unpack(">HH", data)
        assert length == 2 and result in (0, 1), data
        return bool(result == 1)

    def ask(self, request: str | bytes) -> bool:
        self.send(frame(request))
        return self.answer()

    def stop(self) -> str:
        """Closes stdin as ejabberd does; the program's stderr."""
        _, err = self.process.communicate(timeout=ANSWER_WAIT_S)
        return err.decode()


@dataclass
class Account:
    id: UUID
    email: str
    password: str
    token: str


@dataclass
class World:
    url: str
    env: dict[str, str]
    directory: DirectoryIdentity

    async def account(self, *, password: str | None = "pass:word with colons") -> Account:
        user_id = uuid.uuid4()
        email = f"{user_id}@x.io"
        await self.directory.add_users(
            [NewUser(id=user_id, email=email, name="P", password=password)]
        )
        return Account(
            user_id, email, password or "", await self.directory.issue_token(user_id, 3600)
        )

    def expire(self, token: str) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(t.directory_token)
                    .where(t.directory_token.c.token_hash == token_hash(token))
                    .values(expires_at=utc_now() - timedelta(seconds=1))
                )
        finally:
            engine.dispose()

    def program(self, **extra: str) -> AuthProgram:
        return AuthProgram({**self.env, **extra})


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('extauth') / 'wschats.db'}"
        return
    name = f"wsc_extauth_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    upgrade(database_url)
    database = SqlDatabase(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(WSC_DATA_DIR=str(tmp_path), WSC_DATABASE_URL=database_url)
    world = World(database_url, env, DirectoryIdentity(database))
    yield world
    await database.close()


async def test_a_token_or_the_own_password_signs_in(world: World) -> None:
    alice, bob = await world.account(), await world.account()
    program = world.program()
    try:
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.token}")
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.password}")  # ':' in it
        assert program.ask(f"auth:{alice.id}:CARBONIO:{alice.token}")  # domains ignore case
        assert not program.ask(f"auth:{alice.id}:{DOMAIN}:{bob.token}")  # someone else's
        assert not program.ask(f"auth:{alice.id}:{DOMAIN}:{bob.password}x")
        assert not program.ask(f"auth:{alice.id}:{DOMAIN}:")
        assert not program.ask(f"auth:{alice.id}:elsewhere.io:{alice.token}")
        assert not program.ask(f"auth:{uuid.uuid4()}:{DOMAIN}:{alice.token}")  # unknown user
        assert not program.ask(f"auth:admin:{DOMAIN}:{alice.password}")  # not a user id
    finally:
        assert program.stop() == ""  # refusals of wrong passwords are not worth a log line
    assert program.process.returncode == 0


async def test_revoked_expired_and_disabled_are_refused_at_once(world: World) -> None:
    alice, bob, carol = [await world.account() for _ in range(3)]
    program = world.program()
    try:
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.token}")
        assert await world.directory.revoke_token(alice.token)
        assert not program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.token}")
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.password}")  # the password still

        assert program.ask(f"auth:{bob.id}:{DOMAIN}:{bob.token}")
        world.expire(bob.token)
        assert not program.ask(f"auth:{bob.id}:{DOMAIN}:{bob.token}")

        assert program.ask(f"isuser:{carol.id}:{DOMAIN}")
        await world.directory.disable(carol.id)
        assert not program.ask(f"auth:{carol.id}:{DOMAIN}:{carol.token}")
        assert not program.ask(f"auth:{carol.id}:{DOMAIN}:{carol.password}")
        assert not program.ask(f"isuser:{carol.id}:{DOMAIN}")
    finally:
        program.stop()


async def test_isuser_and_the_account_changes_ejabberd_may_ask_for(world: World) -> None:
    alice = await world.account(password=None)
    program = world.program()
    try:
        assert program.ask(f"isuser:{alice.id}:{DOMAIN}")
        assert not program.ask(f"isuser:{alice.id}:other")
        assert not program.ask(f"isuser:{uuid.uuid4()}:{DOMAIN}")
        assert not program.ask(f"isuser:{str(alice.id).upper()}x:{DOMAIN}")
        assert not program.ask(f"auth:{alice.id}:{DOMAIN}:anything")  # no password of her own
        # Accounts are managed in wschats: ejabberd may not change them.
        for request in (
            f"setpass:{alice.id}:{DOMAIN}:new",
            f"tryregister:{alice.id}:{DOMAIN}:new",
            f"removeuser:{alice.id}:{DOMAIN}",
            f"removeuser3:{alice.id}:{DOMAIN}:{alice.token}",
        ):
            assert not program.ask(request), request
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.token}")
    finally:
        program.stop()


async def test_malformed_requests_are_refused_and_the_program_goes_on(world: World) -> None:
    alice = await world.account()
    program = world.program()
    try:
        for request in (
            b"",
            b"auth",
            b"auth:x",
            f"auth:{alice.id}:{DOMAIN}".encode(),  # no password field
            f"isuser:{alice.id}".encode(),
            f"login:{alice.id}:{DOMAIN}:{alice.token}".encode(),
            b"auth:\xff\xfe:carbonio:x",  # not UTF-8
            f"auth::{DOMAIN}:{alice.token}".encode(),
            b"\x00" * 5000,
        ):
            assert not program.ask(request), request
        assert program.ask(f"auth:{alice.id}:{DOMAIN}:{alice.token}")
    finally:
        err = program.stop()
    assert err.count("malformed") == 9, err
    assert alice.token not in err


async def test_requests_sent_together_are_answered_in_order(world: World) -> None:
    alice, bob = await world.account(), await world.account()
    requests = [
        (f"auth:{alice.id}:{DOMAIN}:{alice.token}", True),
        (f"auth:{alice.id}:{DOMAIN}:{bob.token}", False),
        (f"auth:{bob.id}:{DOMAIN}:{bob.password}", True),  # a slow hash among fast lookups
        (f"isuser:{uuid.uuid4()}:{DOMAIN}", False),
        (f"isuser:{bob.id}:{DOMAIN}", True),
    ] * 20
    # Ordering is what is checked here: time enough for 20 slow hashes on a busy machine.
    program = world.program(WSC_XMPP_AUTH_TIMEOUT_SECONDS="120")
    try:
        program.send(b"".join(frame(r) for r, _ in requests))
        assert [program.answer() for _ in requests] == [expected for _, expected in requests]
    finally:
        program.stop()


async def test_a_request_cut_short_ends_the_program_quietly(world: World) -> None:
    alice = await world.account()
    program = world.program()
    assert program.ask(f"isuser:{alice.id}:{DOMAIN}")
    program.send(frame(f"auth:{alice.id}:{DOMAIN}:{alice.token}")[:10])
    assert program.stop() == ""
    assert program.process.returncode == 0


def test_a_database_that_is_down_means_no_and_a_log_line(tmp_path: Path) -> None:
    closed = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_DATA_DIR=str(tmp_path),
        WSC_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/wschats",
    )
    program = AuthProgram(env)
    user = uuid.uuid4()
    try:
        assert not program.ask(f"auth:{user}:{DOMAIN}:secret-token")
        assert not program.ask(f"isuser:{user}:{DOMAIN}")
    finally:
        err = program.stop()
    lines = [line for line in err.splitlines() if line.startswith("wschats xmpp-auth: refused")]
    assert len(lines) == 2, err
    assert f"auth for {user}@{DOMAIN}" in lines[0] and "secret-token" not in err


def test_a_database_that_does_not_answer_means_no_within_the_time_limit(tmp_path: Path) -> None:
    with _silent_server() as port:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
        env.update(
            WSC_DATA_DIR=str(tmp_path),
            WSC_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/wschats",
            WSC_XMPP_AUTH_TIMEOUT_SECONDS="1",
        )
        program = AuthProgram(env)
        user = uuid.uuid4()
        try:
            assert not program.ask(f"auth:{user}:{DOMAIN}:token")
            assert not program.ask(f"isuser:{user}:{DOMAIN}")  # the loop still serves
        finally:
            err = program.stop()
    assert err.count("no decision within 1s") == 2, err


async def test_a_database_file_made_after_the_start_is_used_and_never_made_by_it(
    tmp_path: Path,
) -> None:
    """ejabberd starts its programs before `wschats serve` has created the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(WSC_DATA_DIR=str(tmp_path))
    program = AuthProgram(env)
    try:
        user = uuid.uuid4()
        assert not program.ask(f"isuser:{user}:{DOMAIN}")
        assert not (tmp_path / "wschats.db").exists()  # not made by the program

        url = f"sqlite:///{tmp_path / 'wschats.db'}"
        upgrade(url)
        database = SqlDatabase(url)
        try:
            await DirectoryIdentity(database).add_users(
                [NewUser(id=user, email=f"{user}@x.io", name="P")]
            )
        finally:
            await database.close()
        assert program.ask(f"isuser:{user}:{DOMAIN}")
    finally:
        err = program.stop()
    assert err.count("no wschats database at") == 1, err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Silent:
    """Accepts connections and never says a word: a database that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


class _silent_server:  # noqa: N801 - used like a function
    def __enter__(self) -> int:
        self.server = _Silent()
        return self.server.port

    def __exit__(self, *exc: object) -> None:
        self.server.close()


def test_the_framing() -> None:
    request = parse(b"auth:u:s:p:a:s:s")
    assert (request.operation, request.user, request.server, request.password) == (
        "auth",
        "u",
        "s",
        "p:a:s:s",
    )
    assert parse(b"isuser:u:s").password == ""
    with pytest.raises(MalformedRequest):
        parse(b"isuser:u:s:extra")  # isuser has no password field
    with pytest.raises(MalformedRequest):
        parse(b"auth:u:s")


async def test_with_user_management_a_token_signs_in_and_room_members_exist(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(url)
    with user_management_endpoint() as endpoint:
        alice = endpoint.add_user("alice", token="alice-token")
        bob = endpoint.add_user("bob", token="bob-token")
        alice_id, bob_id = alice["id"]["userId"], bob["id"]["userId"]
        database = SqlDatabase(url)
        try:
            now = utc_now()
            room = Room(uuid.uuid4(), RoomType.GROUP, "g", None, now, now)
            async with database.unit_of_work(write=True) as uow:
                await uow.rooms.add(room)
                await uow.members.add(Subscription(room.id, UUID(alice_id), True, now))
                await uow.commit()
        finally:
            await database.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
        env.update(
            WSC_DATA_DIR=str(tmp_path),
            WSC_DATABASE_URL=url,
            WSC_IDENTITY="usermanagement",
            WSC_IDENTITY_URL=endpoint.url,
        )
        program = AuthProgram(env)
        try:
            assert program.ask(f"auth:{alice_id}:{DOMAIN}:alice-token")
            assert not program.ask(f"auth:{alice_id}:{DOMAIN}:bob-token")
            assert not program.ask(f"auth:{alice_id}:{DOMAIN}:unknown-token")
            assert program.ask(f"isuser:{alice_id}:{DOMAIN}")  # a member of a room
            assert not program.ask(f"isuser:{bob_id}:{DOMAIN}")  # in no room yet
            del endpoint.sessions["alice-token"]  # signed out in Carbonio
            assert not program.ask(f"auth:{alice_id}:{DOMAIN}:alice-token")  # no cache
        finally:
            program.stop()


def test_user_management_down_means_no_and_a_log_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_DATA_DIR=str(tmp_path),
        WSC_DATABASE_URL=url,
        WSC_IDENTITY="usermanagement",
        WSC_IDENTITY_URL=nothing_listening(),
    )
    program = AuthProgram(env)
    user = uuid.uuid4()
    try:
        assert not program.ask(f"auth:{user}:{DOMAIN}:some-token")
        assert not program.ask(f"auth:{user}:{DOMAIN}:other-token")
    finally:
        err = program.stop()
    lines = [line for line in err.splitlines() if line.startswith("wschats xmpp-auth: refused")]
    assert len(lines) == 2, err
    assert "some-token" not in err and "other-token" not in err
