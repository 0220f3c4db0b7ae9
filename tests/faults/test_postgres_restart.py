"""PostgreSQL restarted under load: requests fail fast with a clear 500, then recover by
themselves, without restarting wschats."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from wschats.devtools.servers import ServerProcess, create_user, server_env


def pg_ctl(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


def pg_ready() -> bool:
    done = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False, timeout=10)
    return done.returncode == 0


@pytest.fixture(scope="module")
def server(
    scratch_postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("pgrestart")
    process = ServerProcess(
        env=server_env(data, scratch_postgres, {"WSC_DATABASE_TIMEOUT_SECONDS": "3"}),
        log_path=data / "server.log",
    )
    process.start()
    yield process
    process.stop()


async def test_requests_fail_fast_then_recover(
    server: ServerProcess, scratch_postgres: str
) -> None:
    _, token = await create_user(scratch_postgres, "alice")
    outcomes: Counter[str] = Counter()
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            # A request that hung would raise ReadTimeout here and fail the test: failures
            # must be answered, not left waiting.
            response = await client.get("/rooms")
            if response.status_code == 200:
                outcomes["ok"] += 1
            else:
                assert response.status_code == 500, response.text
                assert response.json()["message"] == "The database is unavailable"
                outcomes["unavailable"] += 1
            await asyncio.sleep(0.02)

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=15) as client:
        workers = [asyncio.create_task(load(client)) for _ in range(4)]
        try:
            await asyncio.sleep(1)
            assert outcomes["ok"] > 0
            await asyncio.to_thread(pg_ctl, "stop")
            try:
                before = outcomes["unavailable"]
                for _ in range(100):
                    if outcomes["unavailable"] > before + 4:
                        break
                    await asyncio.sleep(0.1)
                health = (await client.get("/health")).json()
                assert {"name": "database", "isHealthy": False} in health["dependencies"]
                assert outcomes["unavailable"] > before
            finally:
                await asyncio.to_thread(pg_ctl, "start")
            for _ in range(300):
                if pg_ready():
                    break
                await asyncio.sleep(0.1)
            ok_after_restart = outcomes["ok"]
            for _ in range(300):
                if outcomes["ok"] > ok_after_restart + 10:
                    break
                await asyncio.sleep(0.1)
            assert outcomes["ok"] > ok_after_restart + 10, outcomes
        finally:
            stop.set()
            await asyncio.gather(*workers)
    assert server.proc is not None and server.proc.poll() is None  # never restarted
    assert (await httpx.AsyncClient().get(server.url + "/health")).json()["status"] == "ok"
