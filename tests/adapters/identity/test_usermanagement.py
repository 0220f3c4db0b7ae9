"""The user-management identity adapter against a recording user-management endpoint."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import pytest_asyncio

from tests.adapters.identity.user_management_endpoint import (
    Recorded,
    UserManagementEndpoint,
    nothing_listening,
    user_management_endpoint,
)
from wschats.adapters.identity.usermanagement import UserManagementIdentity
from wschats.domain.errors import Dependency, DependencyFailed, Unauthorized
from wschats.domain.model import UserProfile, UserType

TIMEOUT = 0.5
CACHE_SECONDS = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[UserManagementEndpoint]:
    with user_management_endpoint() as value:
        yield value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(loop_scope="session")
async def identity(
    endpoint: UserManagementEndpoint, clock: Clock
) -> AsyncIterator[UserManagementIdentity]:
    adapter = UserManagementIdentity(
        endpoint.url, timeout_seconds=TIMEOUT, cache_seconds=CACHE_SECONDS, clock=clock
    )
    yield adapter
    await adapter.close()


def only(requests: list[Recorded]) -> Recorded:
    assert len(requests) == 1, requests
    return requests[0]


def assert_request(seen: Recorded, path: str, token: str | None) -> None:
    assert (seen.method, seen.path) == ("GET", path)
    assert seen.cookie == (f"ZM_AUTH_TOKEN={token}" if token is not None else None)


def profile_of(info: dict[str, Any]) -> UserProfile:
    return UserProfile(
        id=uuid.UUID(info["id"]["userId"]),
        email=info["email"],
        name=info["fullName"] or "",
        type=UserType(info["type"].lower()),
    )


# ------------------------------------------------------------------------------ authenticate


@pytest.mark.parametrize(("sent", "expected"), [("INTERNAL", "internal"), ("GUEST", "guest")])
async def test_authenticate_reads_users_myself_with_the_token_as_cookie(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, sent: str, expected: str
) -> None:
    alice = endpoint.add_user("alice", token="tok-alice", user_type=sent)

    profile = await identity.authenticate("tok-alice")

    assert profile == UserProfile(
        id=uuid.UUID(alice["id"]["userId"]),
        email="alice@example.com",
        name="Alice",
        type=UserType(expected),
    )
    assert_request(only(endpoint.take()), "/users/myself/", "tok-alice")


async def test_a_second_authenticate_is_served_from_the_cache_until_it_expires(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, clock: Clock
) -> None:
    alice = endpoint.add_user("alice", token="tok-alice")
    first = await identity.authenticate("tok-alice")
    endpoint.take()

    clock.now += CACHE_SECONDS - 1
    assert await identity.authenticate("tok-alice") == first
    assert endpoint.take() == [], "answered from the cache"

    del endpoint.sessions["tok-alice"]  # revoked in Carbonio
    clock.now += 1
    assert await identity.authenticate("tok-alice") is None
    assert_request(only(endpoint.take()), "/users/myself/", "tok-alice")
    assert first is not None and str(first.id) == alice["id"]["userId"]


async def test_the_cache_is_per_token(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-a1")
    endpoint.sessions["tok-a2"] = endpoint.sessions["tok-a1"]
    await identity.authenticate("tok-a1")

    assert await identity.authenticate("tok-a2") is not None
    assert await identity.authenticate("forged") is None

    tokens = [r.cookie for r in endpoint.take()]
    assert tokens == ["ZM_AUTH_TOKEN=tok-a1", "ZM_AUTH_TOKEN=tok-a2", "ZM_AUTH_TOKEN=forged"]


async def test_no_cache_when_cache_seconds_is_zero(endpoint: UserManagementEndpoint) -> None:
    endpoint.add_user("alice", token="tok-alice")
    adapter = UserManagementIdentity(endpoint.url, timeout_seconds=TIMEOUT, cache_seconds=0)
    try:
        await adapter.authenticate("tok-alice")
        await adapter.authenticate("tok-alice")
    finally:
        await adapter.close()
    assert len(endpoint.take()) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_a_refused_token_is_none_and_is_not_cached(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, status: int
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    endpoint.answer(status)

    assert await identity.authenticate("tok-alice") is None
    assert await identity.authenticate("tok-alice") is not None, "asked again"
    assert len(endpoint.take()) == 2


@pytest.mark.parametrize(
    "answer",
    [
        (500, b""),
        (503, b"busy"),
        (200, b"not json"),
        (200, b"[]"),
        (200, b'{"email": "a@example.com"}'),
        (200, b'{"id": {"userId": "not-a-uuid"}}'),
        (200, b'{"id": {"userId": "0b6e2f8c-4d0e-4f7b-9d7e-2b8d6f1d2a10"}, "type": "ADMIN"}'),
        (200, b'{"id": {"userId": "0b6e2f8c-4d0e-4f7b-9d7e-2b8d6f1d2a10"}, "email": 7}'),
        (302, b""),
    ],
)
async def test_a_failing_service_is_an_authentication_failure_that_is_not_cached(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, answer: tuple[int, bytes]
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    endpoint.answer(answer[0], answer[1], headers=(("Location", "/elsewhere"),))

    with pytest.raises(DependencyFailed) as failed:
        await identity.authenticate("tok-alice")

    assert failed.value.dependency is Dependency.AUTHENTICATION
    assert "tok-alice" not in failed.value.message
    assert await identity.authenticate("tok-alice") is not None, "the failure was not cached"
    assert len(endpoint.take()) == 2


async def test_a_service_that_does_not_answer_in_time_is_an_authentication_failure(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    endpoint.answer(200, b"{}", delay=TIMEOUT * 4)

    with pytest.raises(DependencyFailed) as failed:
        await identity.authenticate("tok-alice")

    assert failed.value.dependency is Dependency.AUTHENTICATION


async def test_a_service_that_is_down_is_an_authentication_failure() -> None:
    adapter = UserManagementIdentity(nothing_listening(), timeout_seconds=TIMEOUT)
    try:
        with pytest.raises(DependencyFailed) as failed:
            await adapter.authenticate("tok-alice")
        assert failed.value.dependency is Dependency.AUTHENTICATION
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    "info",
    [
        {"fullName": None},
        {"fullName": None, "email": None},
        {"type": None, "userType": "GUEST"},
        {"type": None},
    ],
    ids=["no-full-name", "no-name-no-email", "userType", "no-type"],
)
async def test_tolerated_profile_variations(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, info: dict[str, Any]
) -> None:
    alice = endpoint.add_user("alice", token="tok-alice")
    for key, value in info.items():
        if value is None:
            alice.pop(key)
        else:
            alice[key] = value

    profile = await identity.authenticate("tok-alice")

    assert profile is not None, "still a principal (the original dropped one without a name)"
    assert profile.name == (alice.get("fullName") or "")
    assert profile.email == (alice.get("email") or "")
    assert profile.type is (UserType.GUEST if "userType" in info else UserType.INTERNAL)


@pytest.mark.parametrize(
    "token", ["a;ZM_AUTH_TOKEN=b", "a b", "a,b", 'a"b', "a\\b", "caffè", "a\r\nX-Evil: 1", ""]
)
async def test_a_token_that_cannot_be_a_cookie_is_refused_without_asking(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, token: str
) -> None:
    assert await identity.authenticate(token) is None
    with pytest.raises(Unauthorized):
        await identity.get_users(["x"], token=token)
    assert endpoint.take() == []


async def test_concurrent_authentications_of_one_token_share_one_request(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    endpoint.delay = 0.2  # all five are waiting before the first answer comes

    profiles = await asyncio.gather(*(identity.authenticate("tok-alice") for _ in range(5)))

    assert profiles[0] is not None and all(p == profiles[0] for p in profiles)
    assert_request(only(endpoint.take()), "/users/myself/", "tok-alice")


async def test_a_caller_that_goes_away_does_not_break_the_shared_lookup(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    endpoint.delay = 0.2
    impatient = asyncio.create_task(identity.authenticate("tok-alice"))
    await asyncio.sleep(0.05)
    patient = asyncio.create_task(identity.authenticate("tok-alice"))
    await asyncio.sleep(0.05)
    impatient.cancel()

    assert await patient is not None
    assert len(endpoint.take()) == 1


async def test_each_request_carries_only_its_callers_cookie(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    bob = endpoint.add_user("bob", token="tok-bob")
    endpoint.answer(
        200,
        bob,
        headers=(
            ("Content-Type", "application/json"),
            ("Set-Cookie", "ZM_AUTH_TOKEN=tok-bob; Path=/"),
            ("Set-Cookie", "JSESSIONID=abc; Path=/"),
        ),
    )
    await identity.authenticate("tok-bob")

    await identity.authenticate("tok-alice")
    await identity.health()

    _, alice_call, health_call = endpoint.take()
    assert alice_call.cookie == "ZM_AUTH_TOKEN=tok-alice"
    assert health_call.cookie is None


# ------------------------------------------------------------------------------ get_user


async def test_get_user_reads_users_id_with_the_callers_cookie(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    bob = endpoint.add_user("bob", user_type="GUEST")
    bob_id = uuid.UUID(bob["id"]["userId"])

    assert await identity.get_user(bob_id, token="tok-alice") == profile_of(bob)
    assert_request(only(endpoint.take()), f"/users/id/{bob_id}", "tok-alice")


async def test_get_user_of_an_unknown_user_is_none(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    unknown = uuid.uuid4()

    assert await identity.get_user(unknown, token="tok-alice") is None
    assert_request(only(endpoint.take()), f"/users/id/{unknown}", "tok-alice")


@pytest.mark.parametrize("answer", [(500, b""), (403, b""), (400, b""), (200, b"{}")])
async def test_get_user_failures_are_profiling_failures(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, answer: tuple[int, bytes]
) -> None:
    endpoint.answer(*answer)

    with pytest.raises(DependencyFailed) as failed:
        await identity.get_user(uuid.uuid4(), token="tok-alice")

    assert failed.value.dependency is Dependency.PROFILING


async def test_get_user_timeout_and_down_are_profiling_failures(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.answer(200, b"{}", delay=TIMEOUT * 4)
    with pytest.raises(DependencyFailed) as slow:
        await identity.get_user(uuid.uuid4(), token="tok-alice")
    assert slow.value.dependency is Dependency.PROFILING

    down = UserManagementIdentity(nothing_listening(), timeout_seconds=TIMEOUT)
    try:
        with pytest.raises(DependencyFailed) as refused:
            await down.get_user(uuid.uuid4(), token="tok-alice")
        assert refused.value.dependency is Dependency.PROFILING
    finally:
        await down.close()


# ------------------------------------------------------------------------------ get_users


async def test_get_users_is_one_bulk_call_in_the_order_asked_without_unknowns(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    bob = endpoint.add_user("bob")
    carol = endpoint.add_user("carol", user_type="GUEST")
    b, c, unknown = bob["id"]["userId"], carol["id"]["userId"], str(uuid.uuid4())

    found = await identity.get_users([c, unknown, b, c], token="tok-alice")

    assert found == [profile_of(carol), profile_of(bob)]
    query = f"userIds={c}&userIds={unknown}&userIds={b}&userIds={c}"
    assert_request(only(endpoint.take()), f"/users/?{query}", "tok-alice")


async def test_get_users_answers_in_the_order_asked_matching_ids_of_any_case(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    bob, carol = endpoint.add_user("bob"), endpoint.add_user("carol")
    endpoint.answer(200, [carol, bob])

    asked = [bob["id"]["userId"].upper(), carol["id"]["userId"]]

    found = await identity.get_users(asked, token="t")

    assert found == [profile_of(bob), profile_of(carol)]


async def test_get_users_passes_ids_through_encoded(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.add_user("alice", token="tok-alice")
    asked = ["not a uuid", "x&userIds=y", "é"]

    assert await identity.get_users(asked, token="tok-alice") == []

    seen = only(endpoint.take())
    parts = urlsplit(seen.path)
    assert parts.path == "/users/"
    assert parse_qsl(parts.query) == [("userIds", v) for v in asked]


async def test_get_users_of_nobody_asks_nothing(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    assert await identity.get_users([], token="tok-alice") == []
    assert endpoint.take() == []


@pytest.mark.parametrize(
    "answer", [(500, b""), (404, b""), (400, b""), (200, b"{}"), (200, b'[{"id": 1}]')]
)
async def test_get_users_failures_are_profiling_failures(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, answer: tuple[int, bytes]
) -> None:
    endpoint.answer(*answer)

    with pytest.raises(DependencyFailed) as failed:
        await identity.get_users([str(uuid.uuid4())], token="tok-alice")

    assert failed.value.dependency is Dependency.PROFILING


# ------------------------------------------------------------------------------ health


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (204, True), (500, False)])
async def test_health_asks_health_without_a_cookie(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint, status: int, healthy: bool
) -> None:
    endpoint.answer(status)

    assert await identity.health() is healthy
    assert_request(only(endpoint.take()), "/health/", None)


async def test_health_is_false_when_the_service_is_slow_or_down(
    identity: UserManagementIdentity, endpoint: UserManagementEndpoint
) -> None:
    endpoint.answer(200, delay=TIMEOUT * 4)
    assert await identity.health() is False

    down = UserManagementIdentity(nothing_listening(), timeout_seconds=TIMEOUT)
    try:
        assert await down.health() is False
    finally:
        await down.close()
