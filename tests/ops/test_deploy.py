"""deploy/: the production settings example, the systemd units, and the nginx configuration
in front of a real `wschats serve` (TLS, the API and the events websocket)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from wschats.config import Settings
from wschats.devtools.servers import ServerProcess, create_user, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_EXAMPLE = DEPLOY / "production.env.example"
NGINX_SITE = DEPLOY / "nginx" / "wschats.conf"
UNITS = DEPLOY / "systemd"
DEADLINE_S = 30


def env_example() -> dict[str, str]:
    entries = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z0-9_]+", name), f"line {number}: not NAME=value"
        assert name not in entries, f"line {number}: {name} repeated"
        entries[name] = value
    return entries


def test_every_name_in_the_production_example_is_a_setting() -> None:
    entries = env_example()
    unknown = [
        name
        for name in entries
        if not name.startswith("WSC_") or name[4:].lower() not in Settings.model_fields
    ]
    assert unknown == []
    # And the values are valid for those settings.
    settings = Settings.model_validate({name[4:].lower(): v for name, v in entries.items()})
    assert settings.resolved_database_url().startswith("postgresql://")
    assert (settings.storage_url or "").startswith("s3://")
    assert (settings.events_url or "").startswith("amqp://")
    assert settings.xmpp == "ejabberd"
    assert settings.base_path == "/services/chats"
    assert settings.log_format == "json"


def test_nginx_takes_uploads_as_large_as_wschats_does() -> None:
    (limit,) = re.findall(r"client_max_body_size (\d+)m;", NGINX_SITE.read_text())
    assert int(limit) == int(env_example()["WSC_MAX_ATTACHMENT_SIZE_MB"])


def test_the_systemd_units_are_valid(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    wschats = shutil.which("wschats") or str(Path(sys.executable).parent / "wschats")
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert "/opt/wschats/.venv/bin/wschats" in text
        # The installed path does not exist here: point at this checkout's command.
        (tmp_path / unit.name).write_text(text.replace("/opt/wschats/.venv/bin/wschats", wschats))
    checked = subprocess.run(
        [analyze, "verify", "./wschats@10000.service", "./wschats-migrate.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    problems = [line for line in checked.stderr.splitlines() if "wschats" in line]
    assert problems == []
    service = (UNITS / "wschats@.service").read_text()
    assert "EnvironmentFile=/etc/wschats/production.env" in service
    assert re.search(r"^KillSignal=SIGTERM$", service, re.M)
    assert re.search(r"^Restart=on-failure$", service, re.M)
    # Longer than the 30 s uvicorn gives in-flight requests after SIGTERM.
    (stop,) = re.findall(r"^TimeoutStopSec=(\d+)$", service, re.M)
    assert int(stop) > 30


# --- nginx in front of a real server ------------------------------------------------------


@dataclass
class Proxy:
    tls_port: int
    plain_port: int
    tls: ssl.SSLContext
    server: ServerProcess

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}/services/chats"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start listening")


def _site_for_test(directory: Path, upstream: int, tls_port: int, plain_port: int) -> str:
    """The shipped site with only its CHANGE values replaced, each of them checked present."""
    site = NGINX_SITE.read_text()
    for old, new in {
        "server 127.0.0.1:10000;": f"server 127.0.0.1:{upstream};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{tls_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{plain_port};",
        "listen [::]:80;": "",
        "/etc/ssl/certs/chats.example.com.pem": str(directory / "cert.pem"),
        "/etc/ssl/private/chats.example.com.key": str(directory / "key.pem"),
    }.items():
        assert site.count(old) == 1, f"{old!r} is not in the nginx site once"
        site = site.replace(old, new)
    return site


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    directory = tmp_path_factory.mktemp("nginx")
    data = tmp_path_factory.mktemp("behind-nginx")
    server = ServerProcess(
        env={
            "WSC_DATA_DIR": str(data),
            "WSC_DATABASE_URL": f"sqlite:///{data / 'wschats.db'}",
            "WSC_BASE_PATH": "/services/chats",
            "WSC_METRICS": "true",
        },
        log_path=data / "server.log",
    )
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=chats.example.com",
            "-addext", "subjectAltName=DNS:chats.example.com,IP:127.0.0.1",
            "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=DEADLINE_S,
    )  # fmt: skip
    tls_port, plain_port = free_port(), free_port()
    (directory / "wschats.conf").write_text(
        _site_for_test(directory, server.port, tls_port, plain_port)
    )
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / temp).mkdir()
    (directory / "nginx.conf").write_text(
        f"""
        {"user root;" if os.geteuid() == 0 else ""}
        daemon off;
        worker_processes 1;
        pid {directory}/nginx.pid;
        error_log {directory}/error.log info;
        events {{ worker_connections 256; }}
        http {{
            access_log {directory}/access.log;
            client_body_temp_path {directory}/body;
            proxy_temp_path {directory}/proxy;
            fastcgi_temp_path {directory}/fastcgi;
            uwsgi_temp_path {directory}/uwsgi;
            scgi_temp_path {directory}/scgi;
            include {directory}/wschats.conf;
        }}
        """
    )
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=DEADLINE_S)
    assert checked.returncode == 0, checked.stderr
    server.start()
    process = subprocess.Popen(command, stderr=subprocess.STDOUT, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(tls_port, process, directory / "error.log")
        tls = ssl.create_default_context(cafile=str(directory / "cert.pem"))
        yield Proxy(tls_port, plain_port, tls, server)
    finally:
        process.terminate()
        try:
            process.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        server.stop()


async def test_the_api_is_served_over_tls_under_the_base_path(proxy: Proxy) -> None:
    async with httpx.AsyncClient(verify=proxy.tls) as client:
        live = await client.get(proxy.url + "/health/live")
        assert live.status_code == 204
        assert live.headers["strict-transport-security"].startswith("max-age=")
        refused = await client.get(proxy.url + "/rooms")
        assert refused.status_code == 401
        assert refused.json()["traceId"] == refused.headers["x-trace-id"]
        plain = await client.get(f"http://127.0.0.1:{proxy.plain_port}/services/chats/rooms")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")


async def test_metrics_are_not_served_through_the_proxy(proxy: Proxy) -> None:
    async with httpx.AsyncClient(verify=proxy.tls) as client:
        for path in ("/metrics", "/metrics/"):
            assert (await client.get(proxy.url + path)).status_code == 404
        direct = await client.get(proxy.server.url + "/metrics")
    assert direct.status_code == 200


async def test_the_events_websocket_goes_through_the_proxy(proxy: Proxy) -> None:
    _, token = await create_user(proxy.server.env["WSC_DATABASE_URL"], "wss")
    url = f"wss://127.0.0.1:{proxy.tls_port}/services/chats/events"
    async with asyncio.timeout(DEADLINE_S):
        async with connect(
            url, ssl=proxy.tls, additional_headers={"Cookie": f"ZM_AUTH_TOKEN={token}"}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "websocketConnected"
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}


async def test_an_upload_streams_through_the_proxy(proxy: Proxy) -> None:
    database = proxy.server.env["WSC_DATABASE_URL"]
    people = [await create_user(database, name) for name in ("up", "b", "c")]
    (_, token), (bob, _), (carol, _) = people
    headers = {"Cookie": f"ZM_AUTH_TOKEN={token}"}
    async with httpx.AsyncClient(verify=proxy.tls, timeout=DEADLINE_S) as client:
        room = await client.post(
            proxy.url + "/rooms",
            json={"name": "g", "type": "group", "membersIds": [str(bob), str(carol)]},
            headers=headers,
        )
        assert room.status_code == 201, room.text
        content = os.urandom(3 * 1024 * 1024)
        uploaded = await client.post(
            f"{proxy.url}/rooms/{room.json()['id']}/attachments",
            content=content,
            headers={**headers, "fileName": "blob.bin", "mimeType": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
        download = await client.get(
            f"{proxy.url}/attachments/{uploaded.json()['id']}/download", headers=headers
        )
    assert download.status_code == 200
    assert download.content == content
