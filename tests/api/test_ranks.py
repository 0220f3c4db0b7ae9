"""PUT /rooms/workspaces/rank and PUT /rooms/workspaces/{workspaceId}/channels/rank
(behaviour.md#workspace-ranks, behaviour.md#channel-ranks).

Rules of the same status are told apart by a word of their message, to pin the order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import (
    Json,
    assert_json,
    new_channel,
    new_group,
    new_workspace,
    revoke,
    unknown_id,
)
from wschats.bootstrap import Adapters

WORKSPACES_RANK = "/rooms/workspaces/rank"


def channels_rank(workspace_id: str) -> str:
    return f"/rooms/workspaces/{workspace_id}/channels/rank"


def ranking(*entries: tuple[Json | str, int]) -> list[Json]:
    return [
        {"roomId": room if isinstance(room, str) else room["id"], "rank": rank}
        for room, rank in entries
    ]


async def workspace_ranks(api: Api, user: User) -> dict[str, int]:
    rooms = assert_json(await api.get("/rooms", user), 200)
    return {r["id"]: r["rank"] for r in rooms if r["type"] == "workspace"}


async def children(api: Api, workspace: Json, user: User) -> list[Json]:
    shown = assert_json(await api.get(f"/rooms/{workspace['id']}", user), 200)
    found: list[Json] = shown["children"]
    return found


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""


# ------------------------------------------------------------------------------ workspaces


async def three_workspaces(api: Api, users: Users) -> tuple[list[User], list[Json]]:
    """alice created three workspaces with bob and carol; everyone ranks them 1, 2, 3."""
    alice, bob, carol = people = await users.many(3)
    spaces = [await new_workspace(api, alice, bob, carol, name=f"W{i}") for i in (1, 2, 3)]
    return people, spaces


async def test_user_reorders_their_workspaces(api: Api, users: Users, events: EventCapture) -> None:
    (alice, bob, carol), (w1, w2, w3) = await three_workspaces(api, users)
    assert await workspace_ranks(api, bob) == {w1["id"]: 1, w2["id"]: 2, w3["id"]: 3}
    await events.watch(alice, bob, carol)
    assert_no_content(
        await api.put(WORKSPACES_RANK, bob, json_body=ranking((w3, 1), (w1, 2), (w2, 3)))
    )
    assert await workspace_ranks(api, bob) == {w3["id"]: 1, w1["id"]: 2, w2["id"]: 3}
    # Only bob's order changed; nobody is told.
    assert await workspace_ranks(api, alice) == {w1["id"]: 1, w2["id"]: 2, w3["id"]: 3}
    for person in (alice, bob, carol):
        assert await events.received(person) == []


async def test_no_workspaces_and_an_empty_list(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    await new_group(api, alice, bob, carol)
    assert_no_content(await api.put(WORKSPACES_RANK, alice, json_body=[]))


@pytest.mark.parametrize(
    ("case", "word"),
    [
        pytest.param("duplicate", "duplicate", id="duplicate-ids"),
        pytest.param("duplicate+gap", "duplicate", id="duplicates-before-1..n"),
        pytest.param("gap", "1..n", id="ranks-not-1..n"),
        pytest.param("from-zero", "1..n", id="ranks-from-zero"),
        pytest.param("gap+count", "1..n", id="1..n-before-count"),
        pytest.param("count", "expected", id="too-few"),
        pytest.param("empty", "expected", id="empty-list"),
        pytest.param("too-many", "expected", id="too-many"),
        pytest.param("count+foreign", "expected", id="count-before-membership"),
        pytest.param("group", "not one of", id="a-group"),
        pytest.param("foreign", "not one of", id="another-users-workspace"),
        pytest.param("unknown", "not one of", id="unknown-room"),
    ],
)
async def test_workspace_rank_rules_in_order(api: Api, users: Users, case: str, word: str) -> None:
    (alice, bob, carol), (w1, w2, w3) = await three_workspaces(api, users)
    dave = await users.new("dave")
    group = await new_group(api, alice, bob, carol)
    theirs = await new_workspace(api, dave, alice, carol, name="not bob's")
    bodies: dict[str, list[Json]] = {
        "duplicate": ranking((w1, 1), (w1, 2), (w3, 3)),
        "duplicate+gap": ranking((w1, 1), (w1, 3)),
        "gap": ranking((w1, 1), (w2, 3), (w3, 4)),
        "from-zero": ranking((w1, 0), (w2, 1), (w3, 2)),
        "gap+count": ranking((w1, 2)),
        "count": ranking((w1, 1), (w2, 2)),
        "empty": [],
        "too-many": ranking((w1, 1), (w2, 2), (w3, 3), (theirs, 4)),
        "count+foreign": ranking((w1, 1), (theirs, 2)),
        "group": ranking((w1, 1), (w2, 2), (group, 3)),
        "foreign": ranking((w1, 1), (theirs, 2), (w3, 3)),
        "unknown": ranking((w1, 1), (w2, 2), (unknown_id(), 3)),
    }
    assert_error(await api.put(WORKSPACES_RANK, bob, json_body=bodies[case]), 400, word)
    assert await workspace_ranks(api, bob) == {w1["id"]: 1, w2["id"]: 2, w3["id"]: 3}


async def test_leaving_a_workspace_leaves_a_gap_to_renumber(api: Api, users: Users) -> None:
    (alice, bob, _), (w1, w2, w3) = await three_workspaces(api, users)
    assert_no_content(await api.delete(f"/rooms/{w2['id']}/members/{bob.id}", bob))
    # The remaining ranks are not renumbered...
    assert await workspace_ranks(api, bob) == {w1["id"]: 1, w3["id"]: 3}
    # ...and a new workspace comes after the highest.
    w4 = await new_workspace(api, alice, bob, await users.new("dave"), name="W4")
    assert await workspace_ranks(api, bob) == {w1["id"]: 1, w3["id"]: 3, w4["id"]: 4}
    # Sending the ranks as they are is refused: the client must send a full 1..n permutation.
    assert_error(
        await api.put(WORKSPACES_RANK, bob, json_body=ranking((w1, 1), (w3, 3), (w4, 4))),
        400,
        "1..n",
    )
    assert_no_content(
        await api.put(WORKSPACES_RANK, bob, json_body=ranking((w4, 1), (w1, 2), (w3, 3)))
    )
    assert await workspace_ranks(api, bob) == {w4["id"]: 1, w1["id"]: 2, w3["id"]: 3}
    # The next one is then 4 again.
    w5 = await new_workspace(api, alice, bob, await users.new("erin"), name="W5")
    assert (await workspace_ranks(api, bob))[w5["id"]] == 4


async def test_removed_member_gap_is_renumbered_too(api: Api, users: Users) -> None:
    (alice, _, carol), (w1, w2, w3) = await three_workspaces(api, users)
    assert_no_content(await api.delete(f"/rooms/{w1['id']}/members/{carol.id}", alice))
    assert await workspace_ranks(api, carol) == {w2["id"]: 2, w3["id"]: 3}
    assert_error(await api.put(WORKSPACES_RANK, carol, json_body=ranking((w2, 1))), 400)
    assert_no_content(await api.put(WORKSPACES_RANK, carol, json_body=ranking((w3, 1), (w2, 2))))
    assert await workspace_ranks(api, carol) == {w3["id"]: 1, w2["id"]: 2}


# ------------------------------------------------------------------------------ channels


async def workspace_with_channels(api: Api, users: Users) -> tuple[list[User], Json, list[Json]]:
    """alice owns a workspace with bob and carol, and three channels ranked 1, 2, 3; dave is
    an outsider."""
    alice, bob, carol, _outsider = people = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    channels = [await new_channel(api, alice, workspace["id"], name=f"c{i}") for i in (1, 2, 3)]
    return people, workspace, channels


async def test_owner_reorders_channels(api: Api, users: Users, events: EventCapture) -> None:
    (alice, bob, carol, _), workspace, (c1, c2, c3) = await workspace_with_channels(api, users)
    await events.watch(alice, bob, carol)
    await asyncio.sleep(0.005)  # the clock has millisecond precision
    assert_no_content(
        await api.put(
            channels_rank(workspace["id"]), alice, json_body=ranking((c3, 1), (c1, 2), (c2, 3))
        )
    )
    shown = await children(api, workspace, bob)
    assert [(c["id"], c["rank"]) for c in shown] == [(c3["id"], 1), (c1["id"], 2), (c2["id"], 3)]
    for before, after in zip((c3, c1, c2), shown, strict=True):
        assert after["updatedAt"] > before["updatedAt"]
    listed = assert_json(await api.get("/rooms", carol), 200)
    assert [c["id"] for c in listed[0]["children"]] == [c3["id"], c1["id"], c2["id"]]
    channel = assert_json(await api.get(f"/rooms/{c2['id']}", carol), 200)
    assert channel["rank"] == 3
    for person in (alice, bob, carol):
        assert await events.received(person) == []
    # The next channel comes after the highest rank.
    assert (await new_channel(api, alice, workspace["id"]))["rank"] == 4


async def test_promoted_workspace_owner_reorders_channels(api: Api, users: Users) -> None:
    (alice, bob, _, _), workspace, (c1, c2, c3) = await workspace_with_channels(api, users)
    assert_no_content(await api.put(f"/rooms/{workspace['id']}/members/{bob.id}/owner", alice))
    assert_no_content(
        await api.put(
            channels_rank(workspace["id"]), bob, json_body=ranking((c2, 1), (c3, 2), (c1, 3))
        )
    )
    assert [c["id"] for c in await children(api, workspace, alice)] == [
        c2["id"],
        c3["id"],
        c1["id"],
    ]


@pytest.mark.parametrize(
    ("case", "status", "word"),
    [
        pytest.param("gap", 400, "1..n", id="ranks-not-1..n"),
        pytest.param("gap+duplicate", 400, "1..n", id="1..n-before-duplicates"),
        pytest.param("duplicate", 400, "duplicate", id="duplicate-ids"),
        pytest.param("gap+unknown-workspace", 400, "1..n", id="1..n-before-lookup"),
        pytest.param("gap+outsider", 400, "1..n", id="1..n-before-access"),
        pytest.param("duplicate+outsider", 400, "duplicate", id="duplicates-before-access"),
        pytest.param("unknown-workspace", 404, "", id="unknown-workspace"),
        pytest.param("outsider", 403, "", id="not-a-member"),
        pytest.param("not-owner", 403, "", id="not-an-owner"),
        pytest.param("not-owner+size", 403, "", id="ownership-before-size"),
        pytest.param("size", 400, "expected", id="too-few"),
        pytest.param("too-many", 400, "expected", id="too-many"),
        pytest.param("size+foreign", 400, "expected", id="size-before-children"),
        pytest.param("foreign", 400, "missing", id="another-workspace-channel"),
        pytest.param("unknown-channel", 400, "missing", id="unknown-channel"),
    ],
)
async def test_channel_rank_rules_in_order(
    api: Api, users: Users, case: str, status: int, word: str
) -> None:
    (alice, bob, _, dave), workspace, (c1, c2, c3) = await workspace_with_channels(api, users)
    other = await new_workspace(api, alice, bob, dave, name="other")
    foreign = await new_channel(api, alice, other["id"])
    target = workspace["id"]
    cases: dict[str, tuple[User, str, list[Json]]] = {
        "gap": (alice, target, ranking((c1, 1), (c2, 2), (c3, 4))),
        "gap+duplicate": (alice, target, ranking((c1, 1), (c1, 1), (c3, 3))),
        "duplicate": (alice, target, ranking((c1, 1), (c1, 2), (c3, 3))),
        "gap+unknown-workspace": (alice, unknown_id(), ranking((c1, 2))),
        "gap+outsider": (dave, target, ranking((c1, 2))),
        "duplicate+outsider": (dave, target, ranking((c1, 1), (c1, 2))),
        "unknown-workspace": (alice, unknown_id(), ranking((c1, 1), (c2, 2), (c3, 3))),
        "outsider": (dave, target, ranking((c1, 1), (c2, 2), (c3, 3))),
        "not-owner": (bob, target, ranking((c3, 1), (c2, 2), (c1, 3))),
        "not-owner+size": (bob, target, ranking((c1, 1))),
        "size": (alice, target, ranking((c1, 1), (c2, 2))),
        "too-many": (alice, target, ranking((c1, 1), (c2, 2), (c3, 3), (foreign, 4))),
        "size+foreign": (alice, target, ranking((c1, 1), (foreign, 2))),
        "foreign": (alice, target, ranking((c1, 1), (foreign, 2), (c3, 3))),
        "unknown-channel": (alice, target, ranking((c1, 1), (c2, 2), (unknown_id(), 3))),
    }
    caller, workspace_id, body = cases[case]
    response = await api.put(channels_rank(workspace_id), caller, json_body=body)
    assert_error(response, status, word)
    shown = await children(api, workspace, alice)
    assert [(c["id"], c["rank"]) for c in shown] == [(c1["id"], 1), (c2["id"], 2), (c3["id"], 3)]
    assert [c["updatedAt"] for c in shown] == [c["updatedAt"] for c in (c1, c2, c3)]


async def test_rooms_without_channels(api: Api, users: Users) -> None:
    (alice, bob, carol, _), workspace, (c1, _, _) = await workspace_with_channels(api, users)
    empty = await new_workspace(api, alice, bob, carol, name="empty")
    group = await new_group(api, alice, bob, carol)
    assert_no_content(await api.put(channels_rank(empty["id"]), alice, json_body=[]))
    # A room that is not a workspace has no channels: only the empty list fits.
    for room in (group, c1):
        assert_no_content(await api.put(channels_rank(room["id"]), alice, json_body=[]))
        assert_error(
            await api.put(channels_rank(room["id"]), alice, json_body=ranking((c1, 1))), 400
        )
    assert_error(await api.put(channels_rank(workspace["id"]), alice, json_body=[]), 400)


async def test_malformed_workspace_id_is_404(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    assert_error(await api.put(channels_rank("not-a-uuid"), alice, json_body=[]), 404)


# ------------------------------------------------------------------------------ bodies


# Each body is built from the id of a real channel of the caller's workspace.
BAD_BODIES = [
    pytest.param(lambda room: {"roomId": room, "rank": 1}, "", id="object-not-list"),
    pytest.param(lambda room: [{"rank": 1}], "roomId", id="missing-room-id"),
    pytest.param(lambda room: [{"roomId": room}], "rank", id="missing-rank"),
    pytest.param(
        lambda room: [{"roomId": room, "rank": 1, "position": 1}], "position", id="unknown-field"
    ),
    pytest.param(lambda room: [{"roomId": "nope", "rank": 1}], "roomId", id="malformed-room-id"),
    pytest.param(lambda room: [{"roomId": room, "rank": 1.5}], "rank", id="fractional-rank"),
    pytest.param(lambda room: [{"roomId": room, "rank": None}], "rank", id="null-rank"),
]


@pytest.mark.parametrize(("make_body", "word"), BAD_BODIES)
@pytest.mark.parametrize("target", ["workspaces", "channels"])
async def test_rank_body_validation(
    api: Api, users: Users, make_body: Callable[[str], Any], word: str, target: str
) -> None:
    (alice, _, _, _), workspace, (c1, _, _) = await workspace_with_channels(api, users)
    path = WORKSPACES_RANK if target == "workspaces" else channels_rank(workspace["id"])
    assert_error(await api.put(path, alice, json_body=make_body(c1["id"])), 400, word)


async def test_ranks_need_a_body(api: Api, users: Users) -> None:
    (alice, _, _, _), workspace, _ = await workspace_with_channels(api, users)
    for path in (WORKSPACES_RANK, channels_rank(workspace["id"])):
        assert_error(await api.put(path, alice), 400)


# ------------------------------------------------------------------------------ serving, auth


async def test_ranks_under_base_path_and_trailing_slash(api: Api, users: Users) -> None:
    (alice, bob, carol), (w1, w2, w3) = await three_workspaces(api, users)
    assert_no_content(
        await api.put(
            f"/services/chats{WORKSPACES_RANK}/", bob, json_body=ranking((w2, 1), (w3, 2), (w1, 3))
        )
    )
    assert await workspace_ranks(api, bob) == {w2["id"]: 1, w3["id"]: 2, w1["id"]: 3}
    c1 = await new_channel(api, alice, w1["id"])
    c2 = await new_channel(api, alice, w1["id"])
    for path in (f"{channels_rank(w1['id'])}/", f"/services/chats{channels_rank(w1['id'])}"):
        assert_no_content(await api.put(path, alice, json_body=ranking((c2, 1), (c1, 2))))
        assert [c["id"] for c in await children(api, w1, carol)] == [c2["id"], c1["id"]]
        assert_no_content(await api.put(path, alice, json_body=ranking((c1, 1), (c2, 2))))


async def test_ranks_need_a_valid_token(api: Api, users: Users, adapters: Adapters) -> None:
    (alice, _, _), (w1, w2, w3) = await three_workspaces(api, users)
    c1 = await new_channel(api, alice, w1["id"])
    forged = {"Cookie": "ZM_AUTH_TOKEN=forged"}
    attempts = [
        (WORKSPACES_RANK, ranking((w3, 1), (w2, 2), (w1, 3))),
        (channels_rank(w1["id"]), ranking((c1, 1))),
    ]
    for path, body in attempts:
        assert_error(await api.put(path, json_body=body), 401)
        assert_error(await api.put(path, json_body=body, headers=forged), 401)
    await revoke(adapters, alice)
    for path, body in attempts:
        assert_error(await api.put(path, alice, json_body=body), 401)
