"""Authentication over HTTP: cookie and Bearer tokens, login, logout (DECISIONS.md#identity)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Api, User, Users
from tests.support.errors import assert_error
from wschats.bootstrap import Adapters
from wschats.ports import NewUser


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"ZM_AUTH_TOKEN={token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def with_password(adapters: Adapters, password: str, *, email: str) -> uuid.UUID:
    assert adapters.directory is not None
    (user_id,) = await adapters.directory.add_users(
        [NewUser(email=email, name="Pat", password=password)]
    )
    return user_id


# Every endpoint of this test module's scope that needs a caller, with a well-formed path.
PROTECTED = [
    ("GET", "/auth/token"),
    ("DELETE", "/auth/token"),
    ("GET", "/users?userIds={me}"),
    ("GET", "/users/capabilities"),
    ("GET", "/users/{me}"),
    ("GET", "/rooms/{any}/members"),
    ("POST", "/rooms/{any}/members"),
    ("DELETE", "/rooms/{any}/members/{me}"),
    ("PUT", "/rooms/{any}/members/{other}/owner"),
    ("DELETE", "/rooms/{any}/members/{other}/owner"),
    ("GET", "/rooms/{any}/meeting"),
    ("GET", "/meetings"),
    ("POST", "/meetings"),
    ("GET", "/meetings/{any}"),
    ("DELETE", "/meetings/{any}"),
    ("GET", "/rooms"),
]


async def call(api: Api, method: str, template: str, me: User, headers: dict[str, str]) -> Any:
    path = template.format(me=me.id, any=uuid.uuid4(), other=uuid.uuid4())
    body: Any = None
    if method == "POST":
        body = {"userId": str(me.id)} if "members" in path else {"roomId": str(uuid.uuid4())}
    return await api.request(method, path, json_body=body, headers=headers)


# --------------------------------------------------------------------------------- tokens


async def test_get_token_returns_the_callers_cookie_token(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    response = await api.get("/auth/token", alice)

    assert response.status_code == 200, response.text
    assert response.json() == {"zmToken": alice.token}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_a_bearer_token_works_like_the_cookie(api: Api, users: Users, scheme: str) -> None:
    alice, bob = await users.many(2)

    response = await api.get("/auth/token", headers={"Authorization": f"{scheme} {bob.token}"})

    assert response.status_code == 200, response.text
    assert response.json() == {"zmToken": bob.token}
    user = await api.get(f"/users/{alice.id}", headers=bearer(bob.token))
    assert user.status_code == 200, user.text


async def test_each_token_identifies_its_own_user(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)
    room = await api.post(
        "/rooms",
        alice,
        json_body={"type": "one_to_one", "membersIds": [str(bob.id)]},
    )
    assert room.status_code == 201, room.text
    carol = await users.new("carol")

    # Room access is decided by who the token belongs to.
    assert (await api.get(f"/rooms/{room.json()['id']}/members", bob)).status_code == 200
    assert_error(
        await api.get(f"/rooms/{room.json()['id']}/members", headers=bearer(carol.token)), 403
    )


@pytest.mark.parametrize(("method", "template"), PROTECTED)
async def test_no_credentials_is_401(api: Api, users: Users, method: str, template: str) -> None:
    me = await users.new("me")

    response = await call(api, method, template, me, {})

    assert_error(response, 401)


@pytest.mark.parametrize(("method", "template"), PROTECTED)
async def test_an_unknown_token_is_401(api: Api, users: Users, method: str, template: str) -> None:
    me = await users.new("me")

    assert_error(await call(api, method, template, me, cookie("forged-token")), 401)
    assert_error(await call(api, method, template, me, bearer("forged-token")), 401)


async def test_an_empty_or_malformed_authorization_is_401(api: Api) -> None:
    assert_error(await api.get("/auth/token", headers={"Cookie": "ZM_AUTH_TOKEN="}), 401)
    assert_error(await api.get("/auth/token", headers={"Authorization": "Bearer "}), 401)
    assert_error(await api.get("/auth/token", headers={"Authorization": "Basic YTpi"}), 401)


async def test_an_expired_token_is_401(api: Api, users: Users, adapters: Adapters) -> None:
    alice = await users.new("alice")
    assert adapters.directory is not None
    short = await adapters.directory.issue_token(alice.id, 1)
    assert (await api.get("/auth/token", headers=cookie(short))).status_code == 200

    await asyncio.sleep(1.5)

    assert_error(await api.get("/auth/token", headers=cookie(short)), 401)
    assert_error(await api.get("/auth/token", headers=bearer(short)), 401)
    # The user's other tokens are unaffected.
    assert (await api.get("/auth/token", alice)).status_code == 200


async def test_a_revoked_token_is_401(api: Api, users: Users, adapters: Adapters) -> None:
    alice = await users.new("alice")
    assert adapters.directory is not None
    other = await adapters.directory.issue_token(alice.id, 60)

    assert await adapters.directory.revoke_token(alice.token)

    assert_error(await api.get("/auth/token", alice), 401)
    assert_error(await api.get("/users/capabilities", headers=bearer(alice.token)), 401)
    assert (await api.get("/auth/token", headers=cookie(other))).json() == {"zmToken": other}


async def test_a_disabled_users_tokens_stop_at_once(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice, bob = await users.many(2)
    assert adapters.directory is not None
    assert (await api.get("/users/capabilities", alice)).status_code == 200

    await adapters.directory.disable(alice.id)

    assert_error(await api.get("/users/capabilities", alice), 401)
    assert_error(await api.get("/auth/token", headers=bearer(alice.token)), 401)
    assert (await api.get("/users/capabilities", bob)).status_code == 200


async def test_a_queue_id_that_is_not_a_uuid_is_401_even_with_a_valid_token(
    api: Api, users: Users
) -> None:
    alice = await users.new("alice")

    assert_error(await api.get("/auth/token", alice, headers={"queue-id": "not-a-uuid"}), 401)
    assert_error(
        await api.get("/users/capabilities", headers={**bearer(alice.token), "queue-id": "12"}),
        401,
    )
    fine = await api.get("/auth/token", alice, headers={"queue-id": str(uuid.uuid4())})
    assert fine.status_code == 200, fine.text


async def test_a_401_is_a_json_error_with_a_trace_id(api: Api) -> None:
    response = await api.get("/auth/token", headers=cookie("forged"))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"message", "traceId"}
    assert body["message"] and body["traceId"]


# --------------------------------------------------------------------------------- login


async def test_login_returns_a_token_and_sets_an_http_only_lax_cookie(
    api: Api, adapters: Adapters
) -> None:
    user_id = await with_password(adapters, "correct horse", email="pat@example.com")

    response = await api.post(
        "/auth/login", json_body={"email": "pat@example.com", "password": "correct horse"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    token = response.json()["zmToken"]
    assert set(response.json()) == {"zmToken"}
    set_cookie = response.headers["set-cookie"]
    attributes = [part.strip() for part in set_cookie.split(";")]
    assert attributes[0] == f"ZM_AUTH_TOKEN={token}"
    lowered = [a.lower() for a in attributes]
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/" in lowered
    # The token is the user's.
    me = await api.get(f"/users/{user_id}", headers=cookie(token))
    assert me.status_code == 200
    assert (await api.get("/auth/token", headers=bearer(token))).json() == {"zmToken": token}


async def test_login_ignores_the_email_case(api: Api, adapters: Adapters) -> None:
    await with_password(adapters, "pw-123456", email="kim@example.com")

    response = await api.post(
        "/auth/login", json_body={"email": "Kim@Example.COM", "password": "pw-123456"}
    )

    assert response.status_code == 200, response.text


async def test_each_login_gives_a_new_token(api: Api, adapters: Adapters) -> None:
    await with_password(adapters, "pw-123456", email="lee@example.com")
    body = {"email": "lee@example.com", "password": "pw-123456"}

    first = (await api.post("/auth/login", json_body=body)).json()["zmToken"]
    second = (await api.post("/auth/login", json_body=body)).json()["zmToken"]

    assert first != second
    for token in (first, second):
        assert (await api.get("/auth/token", headers=cookie(token))).status_code == 200


async def test_failed_logins_are_401_with_one_message(
    api: Api, users: Users, adapters: Adapters
) -> None:
    await with_password(adapters, "right-password", email="sam@example.com")
    no_password = await users.new("nopass")
    assert adapters.directory is not None
    disabled = await with_password(adapters, "right-password", email="gone@example.com")
    await adapters.directory.disable(disabled)

    attempts = [
        {"email": "sam@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": "right-password"},
        {"email": no_password.email, "password": ""},
        {"email": no_password.email, "password": "anything"},
        {"email": "gone@example.com", "password": "right-password"},
    ]
    responses = [await api.post("/auth/login", json_body=body) for body in attempts]

    for response in responses:
        assert_error(response, 401)
        assert "set-cookie" not in response.headers
    # One message for all, so a caller cannot tell which emails exist.
    assert len({r.json()["message"] for r in responses}) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"email": "sam@example.com"}, ["password"]),
        ({"password": "x"}, ["email"]),
        ({"email": "sam@example.com", "password": "x", "remember": True}, ["remember"]),
        ({"email": 5, "password": "x"}, ["email"]),
    ],
)
async def test_a_malformed_login_is_400(api: Api, body: dict[str, Any], words: list[str]) -> None:
    assert_error(await api.post("/auth/login", json_body=body), 400, *words)


async def test_a_login_body_that_is_not_json_is_400(api: Api) -> None:
    response = await api.post(
        "/auth/login", content=b"email=a&password=b", headers={"Content-Type": "application/json"}
    )

    assert_error(response, 400)


# ------------------------------------------------------------------- login: abuse limits


async def login_from(app: FastAPI, address: str, email: str, password: str) -> httpx.Response:
    """A login from another client address than the shared client's."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/auth/login", json={"email": email, "password": password})


async def test_failed_logins_are_limited_per_account_and_address_with_the_defaults(
    api: Api, app: FastAPI, adapters: Adapters
) -> None:
    email = f"guess-{uuid.uuid4().hex[:6]}@example.com"
    await with_password(adapters, "the-right-one", email=email)
    wrong = {"email": email, "password": "a-wrong-one"}
    for _ in range(10):  # WSC_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS
        assert_error(await api.post("/auth/login", json_body=wrong), 401)

    limited = await api.post("/auth/login", json_body=wrong)
    # 10 per 15 minutes: one more every 90 s, less what has passed since the first failure.
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 90
    assert_error(limited, 429, f"try again in {wait} seconds")
    assert set(limited.json()) == {"message", "traceId"}
    # Even the right password waits: the limit would be worthless otherwise.
    right = {"email": email, "password": "the-right-one"}
    assert_error(await api.post("/auth/login", json_body=right), 429)
    # The owner, from another address, is not locked out by this address's failures.
    elsewhere = await login_from(app, "192.0.2.7", email, "the-right-one")
    assert elsewhere.status_code == 200, elsewhere.text


# --------------------------------------------------------------------------------- logout


async def test_logout_revokes_only_the_callers_token(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice = await users.new("alice")
    assert adapters.directory is not None
    other = await adapters.directory.issue_token(alice.id, 60)

    response = await api.delete("/auth/token", alice)

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await api.get("/auth/token", alice), 401)
    assert_error(await api.delete("/auth/token", alice), 401)
    assert (await api.get("/auth/token", headers=cookie(other))).status_code == 200


async def test_logout_clears_the_cookie(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    response = await api.delete("/auth/token", alice)

    set_cookie = response.headers["set-cookie"].lower()
    assert set_cookie.startswith("zm_auth_token=")
    assert "max-age=0" in set_cookie or "expires=thu, 01 jan 1970" in set_cookie


async def test_logout_with_a_bearer_token(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    assert (await api.delete("/auth/token", headers=bearer(alice.token))).status_code == 204

    assert_error(await api.get("/auth/token", alice), 401)


async def test_a_token_from_login_can_be_logged_out(api: Api, adapters: Adapters) -> None:
    await with_password(adapters, "pw-123456", email="max@example.com")
    login = await api.post(
        "/auth/login", json_body={"email": "max@example.com", "password": "pw-123456"}
    )
    token = login.json()["zmToken"]

    assert (await api.delete("/auth/token", headers=cookie(token))).status_code == 204

    assert_error(await api.get("/auth/token", headers=cookie(token)), 401)
