"""The README's first command brings up a working chat: `scripts/serve.sh` in a fresh copy of
the repository starts wschats and its embedded ejabberd; a person signs in from an XMPP client
with a wschats token, writes into a group, another member receives it; Ctrl-C stops both.

The copy uses the test run's .venv (`WSC_SERVE_INSTALL=0`): installing is pip's business."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from slixmpp import JID

from wschats.devtools.servers import free_port
from wschats.devtools.xmpp_client import XmppUser

ROOT = Path(__file__).resolve().parents[2]
START_WAIT_S = 180.0  # bounds against a hang, not speed requirements
STOP_WAIT_S = 60.0
HOST = "carbonio"


@dataclass
class Served:
    copy: Path
    process: subprocess.Popen[bytes]
    url: str
    c2s_port: int
    api_url: str
    env: dict[str, str]

    def wschats(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.copy / ".venv" / "bin" / "wschats"), *args],
            cwd=self.copy,
            env={**self.env, "WSC_DATA_DIR": "./data"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def log(self) -> str:
        return (self.copy / "serve.log").read_text(errors="replace")


def _fresh_copy(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")


def _serve(copy: Path, *options: str) -> Served:
    port, c2s, api = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_SERVE_INSTALL="0",
        WSC_EJABBERD_C2S_PORT=str(c2s),
        WSC_EJABBERD_HTTP_PORT=str(api),
        WSC_LOG_FORMAT="text",
    )
    with (copy / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            ["bash", "scripts/serve.sh", "--port", str(port), *options],
            cwd=copy,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    return Served(
        copy, process, f"http://127.0.0.1:{port}", c2s, f"http://127.0.0.1:{api}/api", env
    )


def _kill(served: Served) -> None:
    if served.process.poll() is None:
        os.killpg(served.process.pid, signal.SIGKILL)
    subprocess.run(
        ["bash", "scripts/ejabberd.sh", "stop"],
        cwd=served.copy,
        env={**served.env, "WSC_EJABBERD_DIR": str(served.copy / "data" / "ejabberd")},
        capture_output=True,
        timeout=STOP_WAIT_S,
    )


# The built web client of the copy: serve.sh installs wschats from a copy of the package (not
# editable), which on its own would look for web/dist beside its installed files.
WEB_PAGE = '<!doctype html><meta name="wsc-base" content="/__WSC_BASE__/"><p>the copy\'s client'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    copy = tmp_path_factory.mktemp("clone")
    _fresh_copy(copy)
    (copy / "web" / "dist").mkdir(parents=True, exist_ok=True)
    (copy / "web" / "dist" / "index.html").write_text(WEB_PAGE)
    served = _serve(copy)
    try:
        _wait_until_up(served)
        yield served
    finally:
        _kill(served)


def _wait_until_up(served: Served) -> None:
    with httpx.Client() as client:
        for _ in range(int(START_WAIT_S / 0.2)):
            assert served.process.poll() is None, served.log()
            try:
                if client.get(f"{served.url}/health/live").status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"serve.sh did not come up:\n{served.log()}")


async def test_the_first_command_brings_up_a_working_chat(served: Served) -> None:
    alice_id = served.wschats("user", "add", "--email", "alice@x.io", "--name", "Alice")
    bob_id = served.wschats("user", "add", "--email", "bob@x.io", "--name", "Bob")
    carol_id = served.wschats("user", "add", "--email", "carol@x.io", "--name", "Carol")
    alice_token = served.wschats("token", "issue", "--email", "alice@x.io")
    bob_token = served.wschats("token", "issue", "--email", "bob@x.io")

    async with httpx.AsyncClient(base_url=served.url) as http:
        created = await http.post(
            "/rooms",
            headers={"Authorization": f"Bearer {alice_token}"},
            json={"type": "group", "name": "Plans", "membersIds": [bob_id, carol_id]},
        )
        assert created.status_code == 201, created.text
        room = f"{created.json()['id']}@muclight.{HOST}"
        health = (await http.get("/health")).json()
        assert "xmpp_server" in {d["name"] for d in health["dependencies"]}
    await _until_member(served, room, f"{bob_id}@{HOST}")

    alice = XmppUser(f"{alice_id}@{HOST}", alice_token, served.c2s_port)
    bob = XmppUser(f"{bob_id}@{HOST}", bob_token, served.c2s_port)
    try:
        await alice.login()
        await bob.login()
        await alice.join(room, f"{alice_id}@{HOST}")
        alice.client.send_message(mto=JID(room), mbody="hello from Gajim", mtype="groupchat")
        got = await bob.until(
            lambda r: r.message.findtext("{jabber:client}body") == "hello from Gajim"
        )
        assert got[-1].message.get("from", "").startswith(room)
    finally:
        await alice.close()
        await bob.close()


async def _until_member(served: Served, room: str, jid: str) -> None:
    """The room and its subscriptions reach ejabberd after the request (through the outbox)."""
    name, service = room.split("@")
    async with asyncio.timeout(START_WAIT_S), httpx.AsyncClient() as admin:
        while True:
            answer = await admin.post(
                f"{served.api_url}/get_subscribers", json={"name": name, "service": service}
            )
            if answer.status_code == 200 and jid in answer.json():
                return
            await asyncio.sleep(0.2)


def test_the_page_is_the_web_client_built_in_the_checkout_served_from(served: Served) -> None:
    page = httpx.get(served.url + "/", timeout=30)

    assert page.status_code == 200
    assert "the copy's client" in page.text
    assert 'content="/"' in page.text  # the base path is filled in


def test_ctrl_c_stops_wschats_and_its_ejabberd(served: Served) -> None:
    pid_file = served.copy / "data" / "ejabberd" / "ejabberd.pid"
    ejabberd_pid = int(pid_file.read_text())
    assert Path(f"/proc/{ejabberd_pid}").exists()
    os.killpg(served.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    served.process.wait(timeout=STOP_WAIT_S)
    assert not pid_file.exists(), served.log()
    assert not Path(f"/proc/{ejabberd_pid}").exists() or _is_zombie(ejabberd_pid)
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{served.api_url}/status", json={}, timeout=5)
    log = served.log()
    assert "starting the embedded ejabberd" in log and "ejabberd stopped" in log, log


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_no_xmpp_serves_without_ejabberd(tmp_path: Path) -> None:
    _fresh_copy(tmp_path)
    served = _serve(tmp_path, "--no-xmpp")
    try:
        _wait_until_up(served)
        health = httpx.get(f"{served.url}/health", timeout=10).json()
        assert "xmpp_server" not in {d["name"] for d in health["dependencies"]}
        assert not (tmp_path / "data" / "ejabberd").exists()
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{served.api_url}/status", json={}, timeout=5)
    finally:
        _kill(served)
