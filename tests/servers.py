"""Real `wschats serve` processes for tests that need a server over the network."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

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


async def create_user(database_url: str, name: str, ttl: int = 3600) -> tuple[uuid.UUID, str]:
    """A user and a token, written straight into the server's database."""
    upgrade(database_url)
    database = SqlDatabase(database_url)
    try:
        directory = DirectoryIdentity(database)
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        (user_id,) = await directory.add_users([NewUser(email=email, name=name)])
        return user_id, await directory.issue_token(user_id, ttl)
    finally:
        await database.close()


def server_env(
    data_dir: Path, database_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {"WSC_DATA_DIR": str(data_dir), "WSC_DATABASE_URL": database_url, **(extra or {})}


# ---------------------------------------------------------------- crash tests (kill -9)


def payload(index: int, size: int) -> bytes:
    """Upload `index`'s bytes: reproducible, so they can be checked after a restart."""
    return random.Random(index).randbytes(size)


async def paced_body(data: bytes, chunk: int, pause: float) -> AsyncIterator[bytes]:
    """The body in pieces with pauses, so many uploads are in flight when the server dies."""
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]
        await asyncio.sleep(pause)


def storage_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`wschats storage check` with no grace period, as an operator runs it after a crash."""
    return subprocess.run(
        [WSCHATS, "storage", "check", "--grace", "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
