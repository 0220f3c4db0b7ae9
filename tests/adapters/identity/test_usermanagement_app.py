"""wschats with `WSC_IDENTITY=usermanagement`, end to end against a recording user-management."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.adapters.identity.user_management_endpoint import (
    UserManagementEndpoint,
    nothing_listening,
    user_management_endpoint,
)
from tests.conftest import Api, User
from wschats.adapters.db.migrate import upgrade
from wschats.app import create_app
from wschats.bootstrap import build_user_management
from wschats.config import Settings
from wschats.devtools.servers import ServerProcess, server_env


@pytest.fixture
def endpoint() -> Iterator[UserManagementEndpoint]:
    with user_management_endpoint() as value:
        yield value


def settings_for(tmp_path: Path, url: str) -> Settings:
    database_url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(database_url)
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        identity="usermanagement",
        identity_url=url,
        identity_timeout_seconds=1.0,
    )


async def started(settings: Settings) -> AsyncIterator[Api]:
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):
        yield Api(client)


@pytest_asyncio.fixture(loop_scope="session")
async def api(endpoint: UserManagementEndpoint, tmp_path: Path) -> AsyncIterator[Api]:
    async for value in started(settings_for(tmp_path, endpoint.url)):
        yield value


@pytest_asyncio.fixture(loop_scope="session")
async def api_without_user_management(tmp_path: Path) -> AsyncIterator[Api]:
    async for value in started(settings_for(tmp_path, nothing_listening())):
        yield value


def person(endpoint: UserManagementEndpoint, name: str, **kwargs: Any) -> User:
    token = f"tok-{name}-{uuid.uuid4().hex[:8]}"
    info = endpoint.add_user(name, token=token, **kwargs)
    return User(uuid.UUID(info["id"]["userId"]), info["email"], info["fullName"] or "", token)


def seen(endpoint: UserManagementEndpoint) -> list[tuple[str, str, str | None]]:
    return [(r.method, r.path, r.cookie) for r in endpoint.take()]


def healthy(body: dict[str, Any]) -> dict[str, bool]:
    return {d["name"]: d["isHealthy"] for d in body["dependencies"]}


async def test_requests_reach_user_management_as_the_original_made_them(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    alice = person(endpoint, "alice")
    bob = person(endpoint, "bob", user_type="GUEST")
    cookie = f"ZM_AUTH_TOKEN={alice.token}"
    unknown = str(uuid.uuid4())

    capabilities = await api.get("/users/capabilities", alice)
    assert capabilities.status_code == 200, capabilities.text
    assert seen(endpoint) == [("GET", "/users/myself/", cookie)]

    listed = await api.get(f"/users?userIds={bob.id}&userIds={unknown}", alice)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {"id": str(bob.id), "email": bob.email, "name": "Bob", "type": "guest"}
    ]
    assert seen(endpoint) == [("GET", f"/users/?userIds={bob.id}&userIds={unknown}", cookie)], (
        "the token's user came from the cache"
    )

    one = await api.get(f"/users/{bob.id}", alice)
    assert one.status_code == 200, one.text
    assert one.json()["email"] == bob.email
    assert seen(endpoint) == [("GET", f"/users/id/{bob.id}", cookie)]

    created = await api.post(
        "/rooms", alice, json_body={"type": "one_to_one", "membersIds": [str(bob.id)]}
    )
    assert created.status_code == 201, created.text
    members = {m["userId"] for m in created.json()["members"]}
    assert members == {str(alice.id), str(bob.id)}
    assert seen(endpoint) == [("GET", f"/users/?userIds={bob.id}", cookie)]


async def test_unknown_invitee_and_user_are_404(api: Api, endpoint: UserManagementEndpoint) -> None:
    alice = person(endpoint, "alice")
    body = {"type": "one_to_one", "membersIds": [str(uuid.uuid4())]}

    assert (await api.post("/rooms", alice, json_body=body)).status_code == 404
    assert (await api.get(f"/users/{uuid.uuid4()}", alice)).status_code == 404
    assert (await api.get("/rooms", alice)).json() == []


async def test_a_principal_without_a_full_name_is_served(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    nameless = person(endpoint, "nameless", full_name=None)

    assert (await api.get("/users/capabilities", nameless)).status_code == 200


async def test_a_token_user_management_refuses_is_401_every_time(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    forged = User(uuid.uuid4(), "x@example.com", "X", "forged")

    for _ in range(2):
        response = await api.get("/users/capabilities", forged)
        assert response.status_code == 401, response.text
    assert seen(endpoint) == [("GET", "/users/myself/", "ZM_AUTH_TOKEN=forged")] * 2


async def test_bearer_tokens_are_sent_as_the_cookie(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    alice = person(endpoint, "alice")

    response = await api.get(
        "/users/capabilities", headers={"Authorization": f"Bearer {alice.token}"}
    )

    assert response.status_code == 200, response.text
    assert seen(endpoint) == [("GET", "/users/myself/", f"ZM_AUTH_TOKEN={alice.token}")]


async def test_login_and_logout_belong_to_user_management(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    alice = person(endpoint, "alice")

    login = await api.post("/auth/login", json_body={"email": alice.email, "password": "secret"})
    logout = await api.delete("/auth/token", alice)
    token = await api.get("/auth/token", alice)

    assert (login.status_code, logout.status_code) == (400, 400)
    assert token.status_code == 200 and token.json() == {"zmToken": alice.token}


async def test_health_reports_user_management_for_authentication_and_profiling(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    response = await api.get("/health")

    assert response.status_code == 200, response.text
    found = healthy(response.json())
    assert found["authentication_service"] is True and found["profiling_service"] is True
    assert seen(endpoint) == [("GET", "/health/", None)] * 2

    endpoint.answer(500)
    endpoint.answer(500)
    body = (await api.get("/health")).json()
    assert body["status"] == "error"
    assert not healthy(body)["authentication_service"]
    assert not healthy(body)["profiling_service"]


async def test_user_management_down_is_500_and_shows_in_health(
    api_without_user_management: Api,
) -> None:
    api = api_without_user_management
    alice = User(uuid.uuid4(), "alice@example.com", "Alice", "tok-alice")

    response = await api.get("/users/capabilities", alice)
    assert response.status_code == 500
    assert "user-management" in response.json()["message"]

    health = await api.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "error"
    found = healthy(health.json())
    assert (found["authentication_service"], found["profiling_service"]) == (False, False)
    assert found["database"] is True
    assert (await api.get("/health/ready")).status_code == 500  # DECISIONS.md#health


async def test_user_management_failing_after_login_is_500_for_lookups(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    alice = person(endpoint, "alice")
    assert (await api.get("/users/capabilities", alice)).status_code == 200

    endpoint.answer(503)
    assert (await api.get(f"/users?userIds={uuid.uuid4()}", alice)).status_code == 500
    endpoint.answer(503)
    assert (await api.get(f"/users/{uuid.uuid4()}", alice)).status_code == 500


def test_the_url_is_required() -> None:
    with pytest.raises(ValueError, match="WSC_IDENTITY_URL"):
        build_user_management(Settings(identity="usermanagement", identity_url=None))


async def test_the_events_websocket_authenticates_through_user_management(
    endpoint: UserManagementEndpoint, tmp_path: Path
) -> None:
    alice = person(endpoint, "alice")
    server = ServerProcess(
        env=server_env(
            tmp_path,
            f"sqlite:///{tmp_path / 'wschats.db'}",
            {"WSC_IDENTITY": "usermanagement", "WSC_IDENTITY_URL": endpoint.url},
        ),
        log_path=tmp_path / "server.log",
    )
    server.start()
    try:
        headers = {"Cookie": f"ZM_AUTH_TOKEN={alice.token}"}
        async with connect(server.ws_url + "/events", additional_headers=headers) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["type"] == "websocketConnected"
        assert seen(endpoint) == [("GET", "/users/myself/", f"ZM_AUTH_TOKEN={alice.token}")]

        for status, expected in ((404, 401), (500, 500)):
            endpoint.answer(status)
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    server.ws_url + "/events", additional_headers={"Cookie": "ZM_AUTH_TOKEN=new"}
                ):
                    pass
            assert refused.value.response.status_code == expected
    finally:
        server.stop()


async def test_event_sockets_are_checked_again_each_cache_period(
    endpoint: UserManagementEndpoint, tmp_path: Path
) -> None:
    alice = person(endpoint, "alice")
    server = ServerProcess(
        env=server_env(
            tmp_path,
            f"sqlite:///{tmp_path / 'wschats.db'}",
            {
                "WSC_IDENTITY": "usermanagement",
                "WSC_IDENTITY_URL": endpoint.url,
                "WSC_IDENTITY_CACHE_SECONDS": "0.5",
                "WSC_SESSION_CHECK_SECONDS": "0.2",
            },
        ),
        log_path=tmp_path / "server.log",
    )
    server.start()
    try:
        headers = {"Cookie": f"ZM_AUTH_TOKEN={alice.token}"}
        async with connect(server.ws_url + "/events", additional_headers=headers) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == (
                "websocketConnected"
            )
            # User-management failing: the socket is not ended for it.
            for _ in range(3):
                endpoint.answer(500)
            async with asyncio.timeout(30):
                while True:
                    if not endpoint.scripted:
                        break
                    await asyncio.sleep(0.05)
            await ws.send('{"type":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
            # The token revoked in user-management: the next check ends the socket.
            del endpoint.sessions[alice.token]
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(30):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    finally:
        server.stop()
