"""Event sockets end with their session, are capped, check Origin and survive bad frames.

Over a real `wschats serve` on the embedded defaults (SQLite, events in-process); the command
line runs as another process, as an operator runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus

from tests.support.rooms import new_group_on
from tests.support.sockets import (
    WAIT,
    another_token,
    connected,
    frames_until_closed,
    next_of_type,
    open_socket,
)
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.devtools.servers import WSCHATS, ServerProcess, create_user, server_env

PER_USER = 3
PER_PROCESS = 8
ALLOWED_ORIGIN = "https://app.example"


def serving(tmp_path_factory: pytest.TempPathFactory, per_process: int) -> ServerProcess:
    data = tmp_path_factory.mktemp("sessions")
    return ServerProcess(
        env=server_env(
            data,
            f"sqlite:///{data / 'wschats.db'}",
            {
                "WSC_BASE_PATH": "/services/chats",
                "WSC_EVENTS_MAX_SOCKETS_PER_USER": str(PER_USER),
                "WSC_EVENTS_MAX_SOCKETS": str(per_process),
                "WSC_EVENTS_ALLOWED_ORIGINS": f"{ALLOWED_ORIGIN}, https://other.example/",
                "WSC_LOG_FORMAT": "text",
            },
        ),
        log_path=data / "server.log",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = serving(tmp_path_factory, 1000)
    process.start()
    yield process
    process.stop()


class Person:
    def __init__(self, server: ServerProcess, user_id: uuid.UUID, email: str, token: str) -> None:
        self.server = server
        self.id = user_id
        self.email = email
        self.token = token

    def socket(self, token: str | None = None, **headers: str) -> Any:
        return open_socket(self.server, token or self.token, **headers)

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=10) as client:
            headers = {"Authorization": f"Bearer {token or self.token}"}
            return await client.request(method, path, json=body, headers=headers)

    async def another_token(self, ttl: int = 3600) -> str:
        return await another_token(self.server.env["WSC_DATABASE_URL"], self.id, ttl)


async def person(server: ServerProcess, name: str, ttl: int = 3600) -> Person:
    url = server.env["WSC_DATABASE_URL"]
    user_id, token = await create_user(url, name, ttl)
    database = SqlDatabase(url)
    try:
        entry = await DirectoryIdentity(database).find(user_id=user_id)
    finally:
        await database.close()
    assert entry is not None
    return Person(server, user_id, entry.email, token)


@pytest_asyncio.fixture(loop_scope="session")
async def people(server: ServerProcess) -> AsyncIterator[list[Person]]:
    yield [await person(server, f"s{i}") for i in range(3)]


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WSCHATS, *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def refusal(refused: pytest.ExceptionInfo[InvalidStatus]) -> tuple[int, dict[str, Any]]:
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


# ------------------------------------------------------------------ sessions end


async def test_logout_ends_its_sockets_before_the_next_event(people: list[Person]) -> None:
    alice, bob, carol = people
    other_token = await alice.another_token()
    async with alice.socket() as first, alice.socket() as second, alice.socket(other_token) as kept:
        for ws in (first, second, kept):
            await connected(ws)
        assert (await alice.call("DELETE", "/auth/token")).status_code == 204
        # Right after the logout:
        room_id = await new_group_on(bob.server, bob.token, alice.id, carol.id)

        for ws in (first, second):
            frames, code = await frames_until_closed(ws)
            assert code == 1008
            assert frames == []  # the room was created after the logout: never seen
        # The same user's socket of another token is another session: it goes on.
        assert (await next_of_type(kept, "ROOM_CREATED"))["roomId"] == room_id
    assert (await alice.call("GET", "/rooms")).status_code == 401
    alice.token = other_token


async def test_cli_revoke_ends_the_socket_of_that_token(server: ServerProcess) -> None:
    dave = await person(server, "dave")
    kept_token = await dave.another_token()
    async with dave.socket() as ended, dave.socket(kept_token) as kept:
        await connected(ended)
        await connected(kept)
        result = await asyncio.to_thread(cli, server, "token", "revoke", dave.token)
        assert result.returncode == 0, result.stderr
        assert (await frames_until_closed(ended))[1] == 1008
        await kept.send('{"type":"ping"}')
        assert json.loads(await asyncio.wait_for(kept.recv(), WAIT)) == {"type": "pong"}


async def test_cli_revoke_user_ends_every_socket_of_the_user(
    server: ServerProcess, people: list[Person]
) -> None:
    erin = await person(server, "erin")
    second_token = await erin.another_token()
    outsider = people[2]
    async with erin.socket() as a, erin.socket(second_token) as b, outsider.socket() as other:
        for ws in (a, b, other):
            await connected(ws)
        result = await asyncio.to_thread(
            cli, server, "token", "revoke", "--user", "--email", erin.email
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"revoked 2 token(s) of {erin.id}"
        for ws in (a, b):
            assert (await frames_until_closed(ws))[1] == 1008
        room_id = await new_group_on(outsider.server, outsider.token, people[0].id, people[1].id)
        assert (await next_of_type(other, "ROOM_CREATED"))["roomId"] == room_id
    for token in (erin.token, second_token):
        assert (await erin.call("GET", "/rooms", token=token)).status_code == 401
    again = await asyncio.to_thread(cli, server, "token", "revoke", "--user", "--id", str(erin.id))
    assert again.returncode == 0 and again.stdout.strip() == f"revoked 0 token(s) of {erin.id}"


async def test_cli_revoke_forms_are_exclusive(server: ServerProcess) -> None:
    for args in (
        ("token", "revoke"),
        ("token", "revoke", "--user"),
        ("token", "revoke", "some-token", "--user", "--email", "x@example.com"),
        ("token", "revoke", "some-token", "--email", "x@example.com"),
    ):
        result = await asyncio.to_thread(cli, server, *args)
        assert result.returncode == 2, (args, result.stdout)


async def test_disabling_the_user_ends_their_sockets(server: ServerProcess) -> None:
    frank = await person(server, "frank")
    async with frank.socket() as ws:
        await connected(ws)
        result = await asyncio.to_thread(cli, server, "user", "disable", "--id", str(frank.id))
        assert result.returncode == 0, result.stderr
        assert (await frames_until_closed(ws))[1] == 1008


async def test_a_socket_ends_when_its_token_expires(server: ServerProcess) -> None:
    # Long enough to open the socket before expiry on a busy machine (4 s once was not).
    short = await person(server, "short", ttl=10)
    async with short.socket() as ws:
        await connected(ws)
        assert (await frames_until_closed(ws))[1] == 1008
    with pytest.raises(InvalidStatus) as refused:
        async with short.socket():
            pass
    assert refusal(refused)[0] == 401


# ------------------------------------------------------------------ caps


async def test_sockets_beyond_the_users_cap_are_refused(server: ServerProcess) -> None:
    gina = await person(server, "gina")
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(gina.socket()) for _ in range(PER_USER)]
        for ws in sockets:
            await connected(ws)
        with pytest.raises(InvalidStatus) as refused:
            async with gina.socket():
                pass
        status, body = refusal(refused)
        assert status == 429 and str(PER_USER) in body["message"]
        # The sockets already open are untouched: the new one is refused, not the oldest closed.
        for ws in sockets:
            await ws.send('{"type":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {"type": "pong"}
        await sockets[0].close()
        # The slot comes back once the server has seen that close: until then, 429 again.
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    async with gina.socket() as replacement:
                        await connected(replacement)
                    break
                except InvalidStatus as again:
                    assert again.response.status_code == 429
                    await asyncio.sleep(0.05)


async def test_the_users_cap_holds_for_sockets_opened_at_once(server: ServerProcess) -> None:
    hana = await person(server, "hana")
    async with AsyncExitStack() as stack:

        async def attempt() -> int:
            try:
                ws = await stack.enter_async_context(hana.socket())
            except InvalidStatus as refused:
                return refused.response.status_code
            await connected(ws)
            return 101

        outcomes = await asyncio.gather(*(attempt() for _ in range(PER_USER * 4)))
        assert sorted(outcomes) == [101] * PER_USER + [429] * (PER_USER * 3)


async def test_sockets_beyond_the_process_bound_are_refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = serving(tmp_path_factory, PER_PROCESS)  # its own: no socket of another test counts
    server.start()
    try:
        await bounded_by_process(server)
    finally:
        server.stop()


async def bounded_by_process(server: ServerProcess) -> None:
    crowd = [await person(server, f"crowd{i}") for i in range(3)]
    async with AsyncExitStack() as stack:
        for index in range(PER_PROCESS):
            ws = await stack.enter_async_context(crowd[index % 3].socket())
            await connected(ws)
        with pytest.raises(InvalidStatus) as refused:
            async with (await person(server, "late")).socket():
                pass
        status, body = refusal(refused)
        assert status == 503 and body["message"]
    async with crowd[0].socket() as ws:  # room again once they are gone
        await connected(ws)


# ------------------------------------------------------------------ origin


@pytest.mark.parametrize(
    "origin",
    [None, "same", ALLOWED_ORIGIN, "https://APP.example:443", "https://other.example"],
)
async def test_own_and_allowed_origins_and_non_browsers_connect(
    server: ServerProcess, people: list[Person], origin: str | None
) -> None:
    headers = {} if origin is None else {"Origin": origin}
    if origin == "same":
        headers["Origin"] = server.url
    async with people[1].socket(**headers) as ws:
        await connected(ws)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://app.example",
        "https://app.example.evil.example",
        "null",
        "http://127.0.0.1:1",
        "http://localhost",
        "not a url",
    ],
)
async def test_other_origins_are_refused_before_the_upgrade(
    server: ServerProcess, people: list[Person], origin: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with people[1].socket(Origin=origin):
            pass
    status, body = refusal(refused)
    assert status == 403 and body["message"]


# ------------------------------------------------------------------ frames


def tracebacks(server: ServerProcess) -> int:
    return server.log_path.read_text(errors="replace").count("Traceback")


async def test_binary_frame_closes_with_1003_without_a_traceback(
    server: ServerProcess, people: list[Person]
) -> None:
    before = tracebacks(server)
    for frame in (b"\x00\x01binary", b'{"type":"ping"}', b""):
        async with people[1].socket() as ws:
            await connected(ws)
            await ws.send(frame)
            frames, code = await frames_until_closed(ws)
            assert code == 1003 and frames == []
    assert tracebacks(server) == before


async def test_bad_text_frames_are_ignored_without_a_traceback(
    server: ServerProcess, people: list[Person]
) -> None:
    before = tracebacks(server)
    async with people[1].socket() as ws:
        await connected(ws)
        for frame in (
            "[" * 100_000,
            '{"a":' * 50_000 + "1" + "}" * 50_000,
            "not json",
            '{"type":"ping"' + " " * 5000 + "}",
            '"ping"',
        ):
            await ws.send(frame)
            await ws.send('{"type":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {"type": "pong"}
    assert tracebacks(server) == before


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    frames=st.lists(
        st.one_of(
            st.text(max_size=300),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3)
                ),
                max_leaves=20,
            ).map(json.dumps),
            st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fuzzed_text_frames_never_end_the_socket(
    server: ServerProcess, people: list[Person], frames: list[str]
) -> None:
    async def exchange() -> None:
        async with people[2].socket() as ws:
            await connected(ws)
            for frame in frames:
                await ws.send(frame)
            await ws.send('{"type":"ping"}')
            async with asyncio.timeout(WAIT):
                while json.loads(await ws.recv()) != {"type": "pong"}:
                    pass  # a fuzzed frame may itself be a ping

    before = tracebacks(server)
    asyncio.run(exchange())
    assert tracebacks(server) == before


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=st.binary(max_size=2000))
def test_fuzzed_binary_frames_close_with_1003(
    server: ServerProcess, people: list[Person], frame: bytes
) -> None:
    async def exchange() -> int | None:
        async with people[2].socket() as ws:
            await connected(ws)
            await ws.send(frame)
            return (await frames_until_closed(ws))[1]

    before = tracebacks(server)
    assert asyncio.run(exchange()) == 1003
    assert tracebacks(server) == before
