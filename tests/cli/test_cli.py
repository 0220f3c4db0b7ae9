"""The `wschats` command, run as a user runs it: a subprocess from the virtualenv, on SQLite (the
default in WSC_DATA_DIR) and on PostgreSQL (WSC_DATABASE_URL), against a real server process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, Server, fresh_database

UUID_LINE = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def unique_email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def listed(cli: Cli) -> dict[str, list[str]]:
    """`wschats user list` as {email: [id, email, name, type, state]}."""
    rows = [line.split("\t") for line in cli.ok("user", "list").splitlines() if line]
    assert all(len(row) == 5 for row in rows), rows
    return {row[1]: row for row in rows}


def who(server: Server, token: str) -> int:
    """The status of `GET /auth/token` with `token` on the running server."""
    with server.client() as client:
        response = client.get("/auth/token", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 200:
        assert response.json() == {"zmToken": token}
    return response.status_code


def assert_fails(result: Any, code: int, *words: str) -> None:
    assert result.code == code, result
    assert "Traceback" not in result.err, result
    for word in words:
        assert word.lower() in result.err.lower(), result


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------- help


def test_python_dash_m_wschats_shows_help() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "wschats", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    for command in ("serve", "migrate", "user", "token"):
        assert re.search(rf"^\s+{command}\s", completed.stdout, re.MULTILINE), completed.stdout


def test_sub_groups_list_their_commands(cli: Cli) -> None:
    users = cli.ok("user", "--help")
    tokens = cli.ok("token", "--help")

    for command in ("add", "import", "list", "disable"):
        assert re.search(rf"^\s+{command}\s", users, re.MULTILINE), users
    for command in ("issue", "revoke"):
        assert re.search(rf"^\s+{command}\s", tokens, re.MULTILINE), tokens


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["frobnicate"], ["No such command"]),
        (["user", "add", "--name", "N"], ["Missing option", "--email"]),
        (["user", "add", "--email", "e@example.com"], ["Missing option", "--name"]),
        (["user", "add", "--email", "e@x.io", "--name", "N", "--id", "nope"], ["--id", "UUID"]),
        (["user", "add", "--email", "e@x.io", "--name", "N", "--type", "admin"], ["admin"]),
        (["user", "import"], ["Missing argument"]),
        (["user", "import", "/no/such/file.json"], ["does not exist"]),
        (["user", "disable"], ["exactly one of --email or --id"]),
        (
            ["user", "disable", "--email", "e@x.io", "--id", str(uuid.uuid4())],
            ["exactly one of --email or --id"],
        ),
        (["token", "issue"], ["exactly one of --email or --id"]),
        (
            ["token", "issue", "--email", "e@x.io", "--id", str(uuid.uuid4())],
            ["exactly one of --email or --id"],
        ),
        (["token", "issue", "--email", "e@x.io", "--ttl", "0"], ["--ttl"]),
        (["token", "issue", "--email", "e@x.io", "--ttl", "soon"], ["--ttl"]),
        (["token", "revoke"], ["Missing argument", "TOKEN"]),
    ],
)
def test_bad_usage_exits_2_with_a_message(cli: Cli, args: list[str], words: list[str]) -> None:
    assert_fails(cli.run(*args), 2, *words)


# --------------------------------------------------------------------------------- migrate


def test_migrate_prepares_a_fresh_database_and_is_repeatable(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as env:
        fresh = Cli(env)

        assert fresh.ok("migrate") == "database is up to date"
        assert fresh.ok("migrate") == "database is up to date"
        assert fresh.ok("user", "list") == ""
        if backend == "sqlite":
            assert (tmp_path / "wschats.db").is_file()


def test_migrate_reports_an_unreachable_database(cli: Cli, backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        base = cli.env["WSC_DATABASE_URL"].rsplit("/", 1)[0]
        url = f"{base}/wsc_no_such_database_{uuid.uuid4().hex[:8]}"
    else:
        folder = tmp_path / "a-folder-not-a-file.db"
        folder.mkdir()
        url = f"sqlite:///{folder}"

    result = cli.run("migrate", extra_env={"WSC_DATABASE_URL": url})

    assert_fails(result, 1, "migration failed")


# --------------------------------------------------------------------------------- user add, list


def test_user_add_prints_the_new_id_and_list_shows_the_user(cli: Cli) -> None:
    email = unique_email("ada")

    printed = cli.ok("user", "add", "--email", email, "--name", "Ada Lovelace")

    assert UUID_LINE.match(printed), printed
    assert listed(cli)[email] == [printed, email, "Ada Lovelace", "internal", "active"]


def test_user_add_with_every_option(cli: Cli, server: Server) -> None:
    email = unique_email("grace")
    chosen = str(uuid.uuid4())

    printed = cli.ok(
        "user", "add", "--email", email, "--name", "Grace", "--id", chosen,
        "--type", "GUEST", "--password", "s3cret-enough",
    )  # fmt: skip

    assert printed == chosen
    assert listed(cli)[email] == [chosen, email, "Grace", "guest", "active"]
    with server.client() as client:
        login = client.post("/auth/login", json={"email": email, "password": "s3cret-enough"})
        assert login.status_code == 200, login.text
        me = client.get(
            f"/users/{chosen}", headers={"Authorization": f"Bearer {login.json()['zmToken']}"}
        )
    assert me.json() == {"id": chosen, "email": email, "name": "Grace", "type": "guest"}


def test_a_user_without_password_cannot_log_in(cli: Cli, server: Server) -> None:
    email = unique_email("nopass")
    cli.ok("user", "add", "--email", email, "--name", "No Pass")

    with server.client() as client:
        login = client.post("/auth/login", json={"email": email, "password": ""})

    assert login.status_code == 401


def test_user_add_refuses_a_taken_email_or_id(cli: Cli) -> None:
    email = unique_email("dup")
    first = cli.ok("user", "add", "--email", email, "--name", "First")

    again = cli.run("user", "add", "--email", email.upper(), "--name", "Second")
    same_id = cli.run("user", "add", "--email", unique_email(), "--name", "Third", "--id", first)

    assert_fails(again, 1, "already exists")
    assert_fails(same_id, 1, "already exists")
    assert [row[2] for row in listed(cli).values() if row[0] == first] == ["First"]


@pytest.mark.parametrize(("email", "name", "words"), [
    ("not-an-email", "Name", ["invalid email"]),
    ("blank@example.com", "   ", ["name"]),
])  # fmt: skip
def test_user_add_refuses_invalid_values(cli: Cli, email: str, name: str, words: list[str]) -> None:
    assert_fails(cli.run("user", "add", "--email", email, "--name", name), 1, *words)
    assert email not in listed(cli)


# --------------------------------------------------------------------------------- user import


def test_user_import_creates_every_user(cli: Cli, tmp_path: Path, server: Server) -> None:
    emails = [unique_email(n) for n in ("one", "two", "three")]
    chosen = str(uuid.uuid4())
    file = write_json(
        tmp_path / "users.json",
        [
            {"email": emails[0], "name": "One"},
            {"email": emails[1], "name": "Two", "id": chosen, "type": "guest"},
            {"email": emails[2], "name": "Three", "type": "Internal", "password": "pw-three"},
        ],
    )

    result = cli.run("user", "import", str(file))

    assert result.code == 0, result
    assert result.out.strip() == "imported 3 users"
    rows = listed(cli)
    assert [rows[e][2:] for e in emails] == [
        ["One", "internal", "active"],
        ["Two", "guest", "active"],
        ["Three", "internal", "active"],
    ]
    assert rows[emails[1]][0] == chosen
    with server.client() as client:
        login = client.post("/auth/login", json={"email": emails[2], "password": "pw-three"})
    assert login.status_code == 200, login.text


def test_an_empty_import_creates_nobody(cli: Cli, tmp_path: Path) -> None:
    before = listed(cli)

    result = cli.run("user", "import", str(write_json(tmp_path / "none.json", [])))

    assert result.code == 0, result
    assert result.out.strip() == "imported 0 users"
    assert listed(cli) == before


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        # A duplicate inside the file, whatever the case of the email.
        (
            [{"email": "{0}", "name": "A"}, {"email": "{1}", "name": "B"},
             {"email": "{0:upper}", "name": "C"}],
            ["entry 3", "duplicate of entry 1"],
        ),
        ([{"email": "{0}", "name": "A"}, {"email": "bad", "name": "B"}], ["entry 2", "email"]),
        ([{"email": "{0}", "name": "A"}, {"email": "{1}"}], ["entry 2", "name"]),
        ([{"email": "{0}", "name": "A"}, {"email": "{1}", "name": ""}], ["entry 2", "name"]),
        (
            [{"email": "{0}", "name": "A"}, {"email": "{1}", "name": "B", "role": "x"}],
            ["entry 2", "role"],
        ),
        (
            [{"email": "{0}", "name": "A"}, {"email": "{1}", "name": "B", "type": "admin"}],
            ["entry 2", "type"],
        ),
        (
            [{"email": "{0}", "name": "A"}, {"email": "{1}", "name": "B", "id": "42"}],
            ["entry 2", "id"],
        ),
        (
            [{"email": "{0}", "name": "A"}, {"email": "{1}", "name": "B", "password": 7}],
            ["entry 2", "password"],
        ),
        ([{"email": "{0}", "name": "A"}, "{1}"], ["entry 2"]),
    ],
)  # fmt: skip
def test_an_invalid_entry_is_named_and_nobody_is_created(
    cli: Cli, tmp_path: Path, entries: list[Any], words: list[str]
) -> None:
    emails = [unique_email("imp"), unique_email("imp")]

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if value == "{0:upper}":
            return emails[0].upper()
        if isinstance(value, str) and value in ("{0}", "{1}"):
            return emails[int(value[1])]
        return value

    file = write_json(tmp_path / "users.json", [fill(e) for e in entries])

    result = cli.run("user", "import", str(file))

    assert_fails(result, 1, *words)
    rows = listed(cli)
    assert not [e for e in emails if e in rows]


def test_an_import_clashing_with_an_existing_user_creates_nobody(cli: Cli, tmp_path: Path) -> None:
    existing = unique_email("old")
    existing_id = cli.ok("user", "add", "--email", existing, "--name", "Old")
    new = [unique_email("new"), unique_email("new")]
    by_email = write_json(
        tmp_path / "email.json",
        [{"email": new[0], "name": "N0"}, {"email": existing, "name": "Again"}],
    )
    by_id = write_json(
        tmp_path / "id.json",
        [{"email": new[0], "name": "N0"}, {"email": new[1], "name": "N1", "id": existing_id}],
    )

    assert_fails(cli.run("user", "import", str(by_email)), 1, "entry 2", "already exists")
    assert_fails(cli.run("user", "import", str(by_id)), 1, "entry 2", "already exists")

    rows = listed(cli)
    assert not [e for e in new if e in rows]
    assert rows[existing][2] == "Old"


@pytest.mark.parametrize(
    ("content", "words"),
    [("this is not json", ["not a readable JSON"]), ('{"email": "a@b.c"}', ["JSON array"])],
)
def test_an_unreadable_import_file_is_refused(
    cli: Cli, tmp_path: Path, content: str, words: list[str]
) -> None:
    file = tmp_path / "users.json"
    file.write_text(content, encoding="utf-8")

    assert_fails(cli.run("user", "import", str(file)), 1, *words)


# --------------------------------------------------------------------------------- tokens


def test_token_issue_by_email_or_id_gives_working_tokens(cli: Cli, server: Server) -> None:
    email = unique_email("tok")
    user_id = cli.ok("user", "add", "--email", email, "--name", "Tok")

    by_email = cli.ok("token", "issue", "--email", email)
    by_id = cli.ok("token", "issue", "--id", user_id)

    assert by_email != by_id
    assert who(server, by_email) == 200
    assert who(server, by_id) == 200
    with server.client() as client:
        me = client.get(f"/users/{user_id}", headers={"Cookie": f"ZM_AUTH_TOKEN={by_email}"})
    assert me.status_code == 200
    assert me.json()["email"] == email


def test_a_token_with_a_ttl_expires(cli: Cli, server: Server) -> None:
    email = unique_email("ttl")
    cli.ok("user", "add", "--email", email, "--name", "Ttl")
    token = cli.ok("token", "issue", "--email", email, "--ttl", "1")

    time.sleep(2)

    assert who(server, token) == 401


def test_a_token_with_a_long_ttl_works(cli: Cli, server: Server) -> None:
    email = unique_email("long")
    cli.ok("user", "add", "--email", email, "--name", "Long")

    token = cli.ok("token", "issue", "--email", email, "--ttl", "3600")

    assert who(server, token) == 200


def test_token_issue_for_an_unknown_user_fails(cli: Cli) -> None:
    assert_fails(cli.run("token", "issue", "--email", unique_email("ghost")), 1, "no user")
    assert_fails(cli.run("token", "issue", "--id", str(uuid.uuid4())), 1, "no user")


def test_token_revoke_stops_that_token_only(cli: Cli, server: Server) -> None:
    email = unique_email("rev")
    cli.ok("user", "add", "--email", email, "--name", "Rev")
    revoked = cli.ok("token", "issue", "--email", email)
    kept = cli.ok("token", "issue", "--email", email)
    assert who(server, revoked) == 200

    assert cli.ok("token", "revoke", revoked) == "revoked"

    assert who(server, revoked) == 401
    assert who(server, kept) == 200


def test_revoking_an_unknown_token_fails(cli: Cli) -> None:
    assert_fails(cli.run("token", "revoke", "no-such-token"), 1, "unknown token")


# --------------------------------------------------------------------------------- user disable


@pytest.mark.parametrize("by", ["--email", "--id"])
def test_disabling_a_user_stops_their_tokens_at_once(cli: Cli, server: Server, by: str) -> None:
    email = unique_email("dis")
    user_id = cli.ok("user", "add", "--email", email, "--name", "Dis", "--password", "pw-dis-1")
    token = cli.ok("token", "issue", "--id", user_id)
    other = unique_email("other")
    cli.ok("user", "add", "--email", other, "--name", "Other")
    others_token = cli.ok("token", "issue", "--email", other)
    assert who(server, token) == 200

    printed = cli.ok("user", "disable", by, email if by == "--email" else user_id)

    assert printed == f"disabled {user_id}"
    # The running server refuses the token on the very next request.
    assert who(server, token) == 401
    assert who(server, others_token) == 200
    assert listed(cli)[email][4] == "disabled"
    assert_fails(cli.run("token", "issue", "--email", email), 1, "disabled")
    with server.client() as client:
        login = client.post("/auth/login", json={"email": email, "password": "pw-dis-1"})
    assert login.status_code == 401


def test_disabling_an_unknown_user_fails(cli: Cli) -> None:
    assert_fails(cli.run("user", "disable", "--email", unique_email("ghost")), 1, "no user")
    assert_fails(cli.run("user", "disable", "--id", str(uuid.uuid4())), 1, "no user")
