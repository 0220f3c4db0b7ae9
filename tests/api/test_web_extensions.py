"""The web client's extensions under /ext/: finding people and the client configuration."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, User, Users
from wschats.ports import NewUser


def person(user: User) -> dict[str, str]:
    return {"id": str(user.id), "email": user.email, "name": user.name, "type": "internal"}


async def named(users: Users, name: str, email: str) -> User:
    directory = users.adapters.directory
    assert directory is not None
    (user_id,) = await directory.add_users([NewUser(email=email, name=name)])
    token = await directory.issue_token(user_id, 3600)
    return User(id=user_id, email=email, name=name, token=token)


# ---------------------------------------------------------------- GET /ext/users


async def test_people_are_found_by_part_of_their_name_in_any_case(api: Api, users: Users) -> None:
    me = await users.new()
    ada = await named(users, "Ada Lovelace", "ada@example.com")
    await named(users, "Bob Builder", "bob@example.com")
    adam = await named(users, "Adam Smith", "adam@example.org")

    response = await api.get("/ext/users?query=aDa", me)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [person(ada), person(adam)]  # by name


async def test_people_are_found_by_email_and_under_the_base_path(api: Api, users: Users) -> None:
    me = await users.new()
    await named(users, "Ada Lovelace", "ada@example.com")
    adam = await named(users, "Adam Smith", "adam@example.org")

    response = await api.get("/services/chats/ext/users?query=example.org", me)

    assert response.json() == [person(adam)]


async def test_like_wildcards_in_the_query_match_only_themselves(api: Api, users: Users) -> None:
    me = await users.new()
    await named(users, "Ada Lovelace", "ada@example.com")
    percent = await named(users, "Carl 100% Sure", "carl@example.com")

    assert (await api.get("/ext/users?query=%25", me)).json() == [person(percent)]
    assert (await api.get("/ext/users?query=_", me)).json() == []


async def test_the_limit_caps_the_answer(api: Api, users: Users) -> None:
    me = await users.new()
    for index in range(5):
        await named(users, f"Tester {index}", f"tester{index}@example.com")

    response = await api.get("/ext/users?query=tester&limit=3", me)

    assert [p["name"] for p in response.json()] == ["Tester 0", "Tester 1", "Tester 2"]


async def test_disabled_people_are_not_found(api: Api, users: Users) -> None:
    me = await users.new()
    gone = await named(users, "Gone Person", "gone@example.com")
    directory = users.adapters.directory
    assert directory is not None
    await directory.disable(gone.id)

    assert (await api.get("/ext/users?query=gone", me)).json() == []


async def test_finding_people_needs_a_signed_in_caller(api: Api, users: Users) -> None:
    await named(users, "Ada Lovelace", "ada@example.com")

    response = await api.get("/ext/users?query=ada")

    assert response.status_code == 401
    assert "message" in response.json()


async def test_a_bad_query_or_limit_gets_a_clear_400(api: Api, users: Users) -> None:
    me = await users.new()

    for path, words in (
        ("/ext/users", "query"),
        ("/ext/users?query=%20%20", "query"),
        ("/ext/users?query=" + "x" * 129, "128"),
        ("/ext/users?query=a%00b", "NUL"),
        ("/ext/users?query=a&limit=0", "limit"),
        ("/ext/users?query=a&limit=51", "limit"),
        ("/ext/users?query=a&limit=many", "limit"),
    ):
        response = await api.get(path, me)

        assert response.status_code == 400, path
        assert words in response.json()["message"], (path, response.json())


# ---------------------------------------------------------------- GET /ext/client-config


async def test_without_xmpp_the_config_says_why_messages_are_unavailable(
    api: Api, users: Users
) -> None:
    me = await users.new()

    response = await api.get("/ext/client-config", me)

    assert response.status_code == 200
    body = response.json()
    assert body["userId"] == str(me.id)
    assert body["xmppWebsocketUrl"] is None
    assert body["jid"] is None
    assert "WSC_XMPP=none" in body["messagingUnavailableReason"]
    assert body["peopleSearch"] == "name-or-email"


async def test_with_ejabberd_the_config_names_the_websocket_and_the_jid(
    api_with: Any, users: Users
) -> None:
    me = await users.new()
    api = await api_with(xmpp="ejabberd", xmpp_url="http://127.0.0.1:9/api", xmpp_domain="chat")

    body = (await api.get("/ext/client-config", me)).json()

    assert body == {
        "userId": str(me.id),
        "xmppWebsocketUrl": "ws://127.0.0.1:9/ws",
        "xmppDomain": "chat",
        "xmppMucService": "muclight.chat",
        "jid": f"{me.id}@chat",
        "messagingUnavailableReason": None,
        "peopleSearch": "name-or-email",
    }


async def test_a_configured_websocket_url_wins(api_with: Any, users: Users) -> None:
    me = await users.new()
    api = await api_with(
        xmpp="ejabberd",
        xmpp_url="http://127.0.0.1:9",
        xmpp_websocket_url="wss://chat.example.com/xmpp",
    )

    body = (await api.get("/ext/client-config", me)).json()

    assert body["xmppWebsocketUrl"] == "wss://chat.example.com/xmpp"


async def test_the_config_needs_a_signed_in_caller(api: Api) -> None:
    response = await api.get(
        "/ext/client-config", headers={"Cookie": f"ZM_AUTH_TOKEN={uuid.uuid4()}"}
    )

    assert response.status_code == 401
