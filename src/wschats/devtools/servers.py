"""Real `wschats serve` processes on free loopback ports, and users written straight into
their database (faster than the `wschats user` commands, same rows)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

# The `wschats` command of the running interpreter's environment.
WSCHATS = str(Path(sys.executable).parent / "wschats")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One `wschats serve` on a free loopback port."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [WSCHATS, "serve", "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wschats serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health/live", timeout=1.0).status_code == 204:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"wschats serve did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def server_env(
    data_dir: Path, database_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {"WSC_DATA_DIR": str(data_dir), "WSC_DATABASE_URL": database_url, **(extra or {})}


async def add_user(database_url: str, user: NewUser, ttl: int = 3600) -> tuple[uuid.UUID, str]:
    """`user` added to the directory of an existing database, with a token valid `ttl` s."""
    database = SqlDatabase(database_url)
    try:
        directory = DirectoryIdentity(database)
        (user_id,) = await directory.add_users([user])
        return user_id, await directory.issue_token(user_id, ttl)
    finally:
        await database.close()


async def create_user(database_url: str, name: str, ttl: int = 3600) -> tuple[uuid.UUID, str]:
    """A user and a token, in a database migrated first if need be."""
    upgrade(database_url)
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
    return await add_user(database_url, NewUser(email=email, name=name), ttl)


@dataclass
class Person:
    id: str
    email: str
    name: str
    token: str


@dataclass
class Site:
    """One wschats server and the people in its directory, driven over HTTP from sync code."""

    server: ServerProcess
    env: dict[str, str]
    people: list[Person] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def person(self, name: str, password: str | None = None) -> Person:
        """A directory user with a token (and a password, for the sign-in form)."""
        email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
        # In a thread of its own: Playwright's sync API keeps an event loop on this one.
        with ThreadPoolExecutor(1) as thread:
            adding = add_user(
                self.env["WSC_DATABASE_URL"], NewUser(email=email, name=name, password=password)
            )
            user_id, token = thread.submit(asyncio.run, adding).result()
        found = Person(str(user_id), email, name, token)
        self.people.append(found)
        return found

    def api(self, method: str, path: str, person: Person, body: Any = None) -> httpx.Response:
        response = httpx.request(
            method,
            self.server.url + path,
            json=body,
            headers={"Authorization": f"Bearer {person.token}"},
            timeout=30,
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def group(self, owner: Person, name: str, *members: Person) -> str:
        body = {
            "type": "group",
            "name": name,
            "description": "",
            "membersIds": [m.id for m in members],
        }
        return str(self.api("POST", "/rooms", owner, body).json()["id"])


def start_site(tmp: Path, extra: dict[str, str] | None = None, timeout: float = 180.0) -> Site:
    """A server on a new SQLite database under `tmp` (the timeout bounds a hang on a busy
    machine; it is not a speed requirement)."""
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = server_env(
        data, f"sqlite:///{data / 'wschats.db'}", {"WSC_LOG_FORMAT": "text", **(extra or {})}
    )
    server = ServerProcess(env=env, log_path=tmp / "serve.log")
    try:
        server.start(timeout=timeout)
    except BaseException:
        server.stop()  # a server that did not answer in time must not outlive its caller
        raise
    return Site(server, env)
