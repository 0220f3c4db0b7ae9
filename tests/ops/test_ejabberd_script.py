"""scripts/ejabberd.sh keeps ejabberd's state across stop and start; a throw-away instance only
when asked (WSC_EJABBERD_FRESH=1). Its sign-in wrapper carries the caller's wschats settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port

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
    assert wrapper.rstrip().endswith(f"exec {Path(sys.executable).parent}/wschats xmpp-auth")
