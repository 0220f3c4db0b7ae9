"""Limits that are always on: JSON body size (413) and list lengths (400)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from tests.ops.conftest import AppFactory, Person, RunningApp

JSON_TYPE = {"Content-Type": "application/json"}


def group_body(members: list[Person], padding: int = 0) -> bytes:
    """A valid room creation, made as long as wanted with insignificant whitespace."""
    body = {"name": "g", "type": "group", "membersIds": [str(m.id) for m in members]}
    return json.dumps(body).encode() + b" " * padding


async def rooms_of(running: RunningApp, person: Person) -> list[object]:
    response = await running.client.get("/rooms", headers=person.auth)
    assert response.status_code == 200
    return list(response.json())


async def test_a_json_body_over_the_limit_is_refused_with_413(make_app: AppFactory) -> None:
    async with make_app(max_json_body_kb=1) as running:
        alice, bob, carol = [await running.person() for _ in range(3)]
        fits = group_body([bob, carol])
        fits += b" " * (1024 - len(fits))
        accepted = await running.client.post(
            "/rooms", content=fits, headers={**alice.auth, **JSON_TYPE}
        )
        assert accepted.status_code == 201, accepted.text

        over = group_body([bob, carol], padding=1024)
        refused = await running.client.post(
            "/rooms", content=over, headers={**alice.auth, **JSON_TYPE}
        )
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/json"
        assert set(refused.json()) == {"message", "traceId"}
        assert "1 KB" in refused.json()["message"]
        assert len(await rooms_of(running, alice)) == 1

        # Decided before authentication: a stranger's large body costs no database work.
        anonymous = await running.client.post("/rooms", content=over, headers=JSON_TYPE)
        assert anonymous.status_code == 413


async def test_a_body_without_content_length_is_cut_at_the_limit(make_app: AppFactory) -> None:
    async with make_app(max_json_body_kb=1) as running:
        alice, bob, carol = [await running.person() for _ in range(3)]
        chunks_sent = 0

        async def chunked() -> AsyncIterator[bytes]:
            nonlocal chunks_sent
            for chunk in [group_body([bob, carol])] + [b" " * 512] * 1000:
                chunks_sent += 1
                yield chunk

        refused = await running.client.post(
            "/rooms",
            content=chunked(),
            headers={**alice.auth, **JSON_TYPE},
        )
        assert refused.status_code == 413
        assert chunks_sent < 10  # it stopped reading at the limit
        assert await rooms_of(running, alice) == []


async def test_the_limit_holds_whatever_content_type_the_client_claims(
    make_app: AppFactory,
) -> None:
    async with make_app(max_json_body_kb=1) as running:
        alice = await running.person()
        refused = await running.client.post(
            "/rooms",
            content=b"x" * 4096,
            headers={**alice.auth, "Content-Type": "text/plain"},
        )
    assert refused.status_code == 413


async def test_uploads_are_not_json_and_not_limited_by_it(make_app: AppFactory) -> None:
    async with make_app(max_json_body_kb=1) as running:
        alice, bob, carol = [await running.person() for _ in range(3)]
        room = await running.group(alice, bob, carol)
        uploaded = await running.client.post(
            f"/rooms/{room}/attachments",
            content=b"y" * 64 * 1024,
            headers={**alice.auth, "fileName": "big.txt", "mimeType": "text/plain"},
        )
    assert uploaded.status_code == 201, uploaded.text


async def test_a_list_over_the_limit_is_refused_with_400(make_app: AppFactory) -> None:
    async with make_app(max_list_length=3) as running:
        alice, *others = [await running.person() for _ in range(5)]
        too_many = await running.client.post(
            "/rooms", content=group_body(others), headers={**alice.auth, **JSON_TYPE}
        )
        assert too_many.status_code == 400
        assert set(too_many.json()) == {"message", "traceId"}
        assert "membersIds" in too_many.json()["message"]
        assert "at most 3" in too_many.json()["message"]
        assert await rooms_of(running, alice) == []

        at_limit = await running.client.post(
            "/rooms", content=group_body(others[:3]), headers={**alice.auth, **JSON_TYPE}
        )
        assert at_limit.status_code == 201, at_limit.text
