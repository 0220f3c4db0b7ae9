from __future__ import annotations

from tests.conftest import Api, Users


async def test_health_lists_embedded_dependencies(api: Api) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [d["name"] for d in body["dependencies"]] == [
        "database",
        "authentication_service",
        "profiling_service",
        "event_dispatcher",
        "storage_service",
        "previewer_service",
    ]


async def test_create_and_list_group(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    created = await api.post(
        "/rooms",
        alice,
        json_body={
            "name": "g",
            "description": "d",
            "type": "group",
            "membersIds": [str(bob.id), str(carol.id)],
        },
    )
    assert created.status_code == 201, created.text
    listed = await api.get("/rooms?extraFields=members&extraFields=settings", bob)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [created.json()["id"]]
