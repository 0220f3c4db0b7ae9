"""What the command line tells a person who got something wrong: a setting that cannot work,
a database other than the one they meant, and logs they can read at a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import COMMAND_TIMEOUT_S, Cli, Result
from wschats.devtools.servers import WSCHATS, free_port

# Every command reads the settings first; each must refuse them the same way.
COMMANDS = [
    ["serve", "--port", "1"],
    ["migrate"],
    ["user", "list"],
    ["user", "add", "--email", "a@example.com", "--name", "A"],
    ["token", "issue", "--email", "a@example.com"],
    ["token", "revoke", "x"],
    ["storage", "check", "--grace", "0"],
]


def clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env["WSC_DATA_DIR"] = str(data_dir)
    return env


def assert_refused(result: object, words: list[str]) -> None:
    assert isinstance(result, Result)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: configuration: "), result
    assert all(word in lines[0] for word in words), result
    assert result.out == ""


def test_every_command_refuses_a_setting_that_cannot_work_in_one_line(tmp_path: Path) -> None:
    cli = Cli({**clean_env(tmp_path), "WSC_XMPP": "ejabberd"})
    for args in COMMANDS:
        assert_refused(cli.run(*args), ["WSC_XMPP_URL is required when WSC_XMPP=ejabberd"])
    assert not (tmp_path / "wschats.db").exists()  # nothing was opened or created


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ({"WSC_IDENTITY": "usermanagement"}, ["WSC_IDENTITY_URL"]),
        ({"WSC_PORT": "ten"}, ["WSC_PORT", "'ten'"]),
        ({"WSC_LOG_FORMAT": "yaml"}, ["WSC_LOG_FORMAT"]),
    ],
)
def test_serve_refuses_a_setting_that_cannot_work_in_one_line(
    tmp_path: Path, setting: dict[str, str], words: list[str]
) -> None:
    assert_refused(Cli({**clean_env(tmp_path), **setting}).run("serve"), words)


def test_listing_nobody_names_the_database_and_where_a_relative_folder_led(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = subprocess.run(
        [WSCHATS, "user", "list"],
        env=clean_env(Path("data")),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )

    assert completed.returncode == 0
    assert completed.stdout == ""
    database = elsewhere / "data" / "wschats.db"
    assert f"no users in the SQLite database {database}, created just now" in completed.stderr
    assert f"WSC_DATA_DIR=data is relative to {elsewhere}" in completed.stderr

    # The second time the database exists: still named, no longer new.
    again = subprocess.run(
        [WSCHATS, "user", "list"],
        env=clean_env(Path("data")),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert f"no users in the SQLite database {database} (" in again.stderr


def test_a_failure_names_the_database(cli: Cli, backend: str) -> None:
    result = cli.run("token", "issue", "--email", "nobody@example.com")

    assert result.code == 1
    assert "no user with email nobody@example.com" in result.err
    if backend == "sqlite":
        assert str(Path(cli.env["WSC_DATA_DIR"]) / "wschats.db") in result.err
    else:
        database = cli.env["WSC_DATABASE_URL"].rsplit("/", 1)[1]
        assert f"[database postgresql://postgres@127.0.0.1:5432/{database}]" in result.err
    assert "Traceback" not in result.err


def test_a_database_password_is_not_printed(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    env["WSC_DATABASE_URL"] = "postgresql://wschats:s3cret@127.0.0.1:1/nowhere"

    result = Cli(env).run("token", "revoke", "x")

    assert result.code == 1
    assert "s3cret" not in result.err
    assert "postgresql://wschats:***@127.0.0.1:1/nowhere" in result.err


def first_log_line(env: dict[str, str], *, terminal: bool) -> str:
    """The first line `wschats serve` writes on stderr, given a terminal or a pipe."""
    port = free_port()
    deadline = time.monotonic() + 60
    if terminal:
        controller, stderr = pty.openpty()
    else:
        controller, stderr = os.pipe()
    proc = subprocess.Popen(
        [WSCHATS, "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    os.close(stderr)
    received = b""
    try:
        while b"\n" not in received and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                received += os.read(controller, 4096)
    finally:
        proc.terminate()
        proc.wait(30)
        os.close(controller)
    assert b"\n" in received, f"no log line from wschats serve: {received!r}"
    return received.split(b"\n", 1)[0].decode().strip()


def test_logs_are_text_at_a_terminal_and_json_otherwise(tmp_path: Path) -> None:
    env = clean_env(tmp_path)

    at_terminal = first_log_line(env, terminal=True)
    to_a_pipe = first_log_line(env, terminal=False)
    forced = first_log_line({**env, "WSC_LOG_FORMAT": "json"}, terminal=True)

    assert not at_terminal.startswith("{"), at_terminal
    assert json.loads(to_a_pipe)["level"] == "INFO"
    assert json.loads(forced)["level"] == "INFO"
