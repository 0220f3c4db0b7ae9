"""`wschats user set-password` and `wschats user delete`, run as an administrator runs them,
against a real server on the same database (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import uuid

from tests.cli.conftest import COMMAND_TIMEOUT_S, Cli, Server
from wschats.devtools.servers import WSCHATS


def email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def login(server: Server, address: str, password: str) -> int:
    with server.client() as client:
        body = {"email": address, "password": password}
        return client.post("/auth/login", json=body).status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_set_password_replaces_it_and_revokes_the_tokens(cli: Cli, server: Server) -> None:
    address = email("pat")
    cli.ok("user", "add", "--email", address, "--name", "Pat", "--password", "old-secret")
    token = cli.ok("token", "issue", "--email", address)

    said = cli.ok("user", "set-password", "--email", address, "--password", "new-secret")

    assert "tokens are revoked" in said
    assert login(server, address, "old-secret") == 401
    assert login(server, address, "new-secret") == 200
    with server.client() as client:
        assert client.get("/rooms", headers=bearer(token)).status_code == 401

    # Without --password it is asked for, twice, without echo.
    asked = subprocess.run(
        [WSCHATS, "user", "set-password", "--email", address],
        env=cli.env,
        input="typed-secret\ntyped-secret\n",
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert login(server, address, "typed-secret") == 200


def test_delete_removes_the_user_and_leaves_their_room_with_an_owner(
    cli: Cli, server: Server
) -> None:
    alice, bob, carol = email("alice"), email("bob"), email("carol")
    ids = {a: cli.ok("user", "add", "--email", a, "--name", a[:5]) for a in (alice, bob, carol)}
    alice_token = cli.ok("token", "issue", "--email", alice)
    bob_token = cli.ok("token", "issue", "--email", bob)
    with server.client() as client:
        created = client.post(
            "/rooms",
            headers=bearer(alice_token),
            json={"type": "group", "name": "Team", "membersIds": [ids[bob], ids[carol]]},
        )
        assert created.status_code == 201
        room = created.json()["id"]

    said = cli.ok("user", "delete", "--email", alice)

    assert said.startswith(f"deleted {ids[alice]}: left 1 rooms"), said
    assert "made 1 new owners" in said
    with server.client() as client:
        assert client.get("/rooms", headers=bearer(alice_token)).status_code == 401
        members = client.get(f"/rooms/{room}/members", headers=bearer(bob_token)).json()
    assert {m["userId"]: m["owner"] for m in members} == {ids[bob]: True, ids[carol]: False}
    assert alice not in cli.ok("user", "list")

    again = cli.run("user", "delete", "--email", alice)
    assert again.code == 1
    assert f"no user with email {alice}" in again.err
