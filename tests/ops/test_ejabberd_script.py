"""scripts/ejabberd.sh keeps ejabberd's state across stop and start; a throw-away instance only
when asked (WSC_EJABBERD_FRESH=1). Its sign-in wrapper carries the caller's wschats settings. It
reuses only the instance it started from the same directory, never another one on its port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from wschats.devtools.servers import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ejabberd.sh"
HOST = "carbonio"


def test_state_survives_a_restart_unless_a_fresh_instance_is_asked_for(tmp_path: Path) -> None:
    c2s, http = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_EJABBERD_DIR=str(tmp_path / "ejabberd"),
        WSC_EJABBERD_C2S_PORT=str(c2s),
        WSC_EJABBERD_HTTP_PORT=str(http),
        WSC_DATA_DIR=str(tmp_path / "data with space"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    api = f"http://127.0.0.1:{http}/api"

    def script(command: str, **extra: str) -> None:
        done = subprocess.run(
            [str(SCRIPT), command],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def exists(user: str) -> bool:
        answer = httpx.post(f"{api}/check_account", json={"user": user, "host": HOST}, timeout=10)
        return bool(answer.json() == 0)

    script("start", WSC_EJABBERD_FRESH="1")
    try:
        registered = httpx.post(
            f"{api}/register", json={"user": "kept", "host": HOST, "password": "p"}, timeout=10
        )
        assert registered.status_code == 200, registered.text
        script("stop")
        script("start")
        assert exists("kept")  # the default keeps users, rooms and archives
        script("stop")
        script("start", WSC_EJABBERD_FRESH="1")
        assert not exists("kept")
    finally:
        script("stop")

    wrapper = (tmp_path / "ejabberd" / "conf" / "xmpp-auth").read_text()
    assert f"export WSC_DATA_DIR={tmp_path}/data\\ with\\ space" in wrapper
    assert "WSC_EJABBERD_" not in wrapper
    program = f"{Path(sys.executable).parent}/wschats"
    assert f"if [ -x {program} ]; then exec {program} xmpp-auth; fi" in wrapper


def test_an_instance_started_before_wschats_is_installed_still_manages_rooms(
    tmp_path: Path,
) -> None:
    """CI once started ejabberd before the virtualenv existed: the sign-in program exited at
    once, and ejabberd failed every room affiliation ("External authentication program
    failed"). The wrapper now refuses sign-ins instead until wschats is installed."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "deploy" / "ejabberd").mkdir(parents=True)
    repo = SCRIPT.parents[1]
    for part in ("scripts/ejabberd.sh", "deploy/ejabberd/ejabberd.yml"):
        (root / part).write_bytes((repo / part).read_bytes())
    (root / "scripts" / "ejabberd.sh").chmod(0o755)
    # No wschats anywhere on PATH, and no .venv in this checkout.
    path = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "wschats").exists()
    )
    c2s, http = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        PATH=path,
        WSC_EJABBERD_DIR=str(tmp_path / "ejabberd"),
        WSC_EJABBERD_C2S_PORT=str(c2s),
        WSC_EJABBERD_HTTP_PORT=str(http),
        WSC_EJABBERD_FRESH="1",
    )
    api = f"http://127.0.0.1:{http}/api"

    def script(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(root / "scripts" / "ejabberd.sh"), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    started = script("start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        room = {"name": "r1", "service": f"muclight.{HOST}"}

        def call(command: str, **body: object) -> httpx.Response:
            return httpx.post(f"{api}/{command}", json=body, timeout=10)

        assert call("create_room_with_opts", **room, host=HOST, options=[]).json() == 0
        affiliated = call(
            "set_room_affiliation", **room, jid=f"nobody@{HOST}", affiliation="member"
        )
        assert affiliated.status_code == 200, affiliated.text
        assert call("check_account", user="nobody", host=HOST).json() == 1  # refused, not failed
    finally:
        stopped = script("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    log = (tmp_path / "ejabberd" / "logs" / "ejabberd.log").read_text()
    assert "External authentication program failed" not in log


def test_start_reuses_its_own_instance_and_refuses_one_from_another_directory(
    tmp_path: Path,
) -> None:
    """A test run's instance left on the default ports was once taken by serve.sh, whose users
    then signed in against the tests' settings. Another directory's instance is now refused."""
    c2s, http = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_EJABBERD_C2S_PORT=str(c2s),
        WSC_EJABBERD_HTTP_PORT=str(http),
        WSC_EJABBERD_FRESH="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    first, second = tmp_path / "a", tmp_path / "b"

    def script(command: str, directory: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), command],
            env={**env, "WSC_EJABBERD_DIR": str(directory)},
            capture_output=True,
            text=True,
            timeout=900,
        )

    def answers() -> bool:
        status = httpx.post(f"http://127.0.0.1:{http}/api/status", json={}, timeout=10)
        return "is running" in status.text

    started = script("start", first)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        pid = (first / "ejabberd.pid").read_text().strip()
        again = script("start", first)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith("ejabberd already running"), again.stdout
        assert f"pid={pid}" in again.stdout

        other = script("start", second)
        assert other.returncode != 0, other.stdout + other.stderr
        message = other.stderr
        assert f"not started from {second} already answers on port {http}" in message
        assert f"WSC_EJABBERD_DIR={first} {SCRIPT} stop" in message  # the one to stop
        assert "WSC_EJABBERD_C2S_PORT and WSC_EJABBERD_HTTP_PORT" in message
        assert not (second / "ejabberd.pid").exists()
        assert answers()
        assert (first / "ejabberd.pid").read_text().strip() == pid
        assert Path(f"/proc/{pid}").exists()
    finally:
        stopped = script("stop", first)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "ejabberd stopped" in stopped.stdout
