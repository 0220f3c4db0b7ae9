"""Invariants under concurrent requests (each request runs on its own DB connection)."""

from __future__ import annotations

import asyncio
import random

import httpx

from tests.conftest import Api, Users
from wschats.app import create_app
from wschats.config import Settings


async def test_simultaneous_one_to_one_creations_give_one_room(api: Api, users: Users) -> None:
    for _ in range(5):
        alice, bob = await users.many(2)
        # Both directions at once: the pair is the same whoever creates it.
        responses = await asyncio.gather(
            *[
                api.post("/rooms", a, json_body={"type": "one_to_one", "membersIds": [str(b.id)]})
                for a, b in [(alice, bob), (bob, alice), (alice, bob), (bob, alice)]
            ]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409], [r.text for r in responses]
        rooms = (await api.get("/rooms", alice)).json()
        assert len(rooms) == 1


async def test_concurrent_adds_never_exceed_the_group_limit(api: Api, users: Users) -> None:
    owner, *invitees = await users.many(3)
    room = (
        await api.post(
            "/rooms",
            owner,
            json_body={"type": "group", "name": "g", "membersIds": [str(u.id) for u in invitees]},
        )
    ).json()
    candidates = await users.many(8)
    responses = await asyncio.gather(
        *[
            api.post(
                f"/rooms/{room['id']}/members",
                owner,
                json_body={"userId": str(c.id), "owner": False, "historyCleared": False},
            )
            for c in candidates
        ]
    )
    statuses = [r.status_code for r in responses]
    # max_group_members is 6 in tests: 3 members, so 3 more fit.
    assert statuses.count(201) == 3, statuses
    assert statuses.count(400) == 5, statuses
    members = (await api.get(f"/rooms/{room['id']}/members", owner)).json()
    assert len(members) == 6


async def test_concurrent_adds_of_the_same_user_add_it_once(api: Api, users: Users) -> None:
    owner, a, b, newcomer = await users.many(4)
    room = (
        await api.post(
            "/rooms",
            owner,
            json_body={"type": "workspace", "name": "w", "membersIds": [str(a.id), str(b.id)]},
        )
    ).json()
    responses = await asyncio.gather(
        *[
            api.post(
                f"/rooms/{room['id']}/members",
                owner,
                json_body={"userId": str(newcomer.id), "owner": False, "historyCleared": False},
            )
            for _ in range(4)
        ]
    )
    assert sorted(r.status_code for r in responses) == [201, 400, 400, 400]
    members = (await api.get(f"/rooms/{room['id']}/members", owner)).json()
    assert [m["userId"] for m in members].count(str(newcomer.id)) == 1


async def test_concurrent_workspace_creations_give_distinct_ranks(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    responses = await asyncio.gather(
        *[
            api.post(
                "/rooms",
                alice,
                json_body={
                    "type": "workspace",
                    "name": f"w{i}",
                    "membersIds": [str(bob.id), str(carol.id)],
                },
            )
            for i in range(6)
        ]
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    for person in (alice, bob, carol):
        ranks = sorted(r["rank"] for r in (await api.get("/rooms", person)).json())
        assert ranks == [1, 2, 3, 4, 5, 6]


async def test_concurrent_rank_updates_leave_one_whole_permutation(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    ids = []
    for i in range(5):
        created = await api.post(
            "/rooms",
            alice,
            json_body={
                "type": "workspace",
                "name": f"w{i}",
                "membersIds": [str(bob.id), str(carol.id)],
            },
        )
        ids.append(created.json()["id"])
    permutations = []
    rng = random.Random(7)
    for _ in range(6):
        order = ids[:]
        rng.shuffle(order)
        permutations.append({room_id: rank for rank, room_id in enumerate(order, start=1)})
    responses = await asyncio.gather(
        *[
            api.put(
                "/rooms/workspaces/rank",
                alice,
                json_body=[{"roomId": k, "rank": v} for k, v in p.items()],
            )
            for p in permutations
        ]
    )
    assert all(r.status_code == 204 for r in responses)
    final = {r["id"]: r["rank"] for r in (await api.get("/rooms", alice)).json()}
    assert final in permutations


async def test_concurrent_first_settings_of_a_user_do_not_collide(api: Api, users: Users) -> None:
    """Mute/clear create the caller's settings row on first use: simultaneous first uses must
    not both try to insert it."""
    alice, bob, carol = await users.many(3)
    for _ in range(5):
        room = (
            await api.post(
                "/rooms",
                alice,
                json_body={
                    "type": "group",
                    "name": "g",
                    "membersIds": [str(bob.id), str(carol.id)],
                },
            )
        ).json()
        responses = await asyncio.gather(
            *[api.put(f"/rooms/{room['id']}/mute", alice) for _ in range(3)],
            *[api.put(f"/rooms/{room['id']}/clear", alice) for _ in range(3)],
        )
        assert [r.status_code for r in responses] == [204] * 3 + [200] * 3, [
            r.text for r in responses
        ]
        listed = (await api.get(f"/rooms/{room['id']}", alice)).json()
        assert listed["userSettings"]["muted"] is True


async def test_concurrent_requests_never_wait_on_each_others_connections(
    settings: Settings, users: Users
) -> None:
    """No request may hold its connection while asking for another one: with a pool of two
    connections (PostgreSQL) and many simultaneous creations, a request that did would
    deadlock the pool until its timeout and answer 500."""
    small = settings.model_copy(update={"database_pool_size": 1})
    app = create_app(small)
    people = await users.many(4)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Cookie": f"ZM_AUTH_TOKEN={people[0].token}"}
            responses = await asyncio.wait_for(
                asyncio.gather(
                    *[
                        client.post(
                            "/rooms",
                            headers=headers,
                            json={
                                "type": "group",
                                "name": f"g{i}",
                                "membersIds": [str(p.id) for p in people[1:]],
                            },
                        )
                        for i in range(12)
                    ]
                ),
                timeout=25,  # below the pool timeout: a deadlock shows as a failure here
            )
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
