"""A server killed (SIGKILL) during concurrent uploads leaves no orphans once restarted, and
every upload it acknowledged (201) is there and downloadable (DECISIONS.md#files, issue 3)."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import Users
from tests.files.support import Stored, server_env_for
from tests.servers import paced_body, payload, storage_check
from wschats.config import Settings
from wschats.devtools.servers import ServerProcess
from wschats.domain.escapes import encode_text

UPLOADS = 20
UPLOAD_SIZE = 3 * 1024 * 1024
CHUNK = 64 * 1024
KILL_AFTER_ACKNOWLEDGED = 5
# The start-up sweep waits 6 database timeouts before it trusts that bytes are orphaned.
DATABASE_TIMEOUT_S = 2
SWEEP_DEADLINE_S = 6 * DATABASE_TIMEOUT_S + 60


@pytest.mark.slow
async def test_kill_during_uploads_leaves_no_orphans(
    settings: Settings, users: Users, stored: Stored, tmp_path: Path
) -> None:
    env = server_env_for(settings) | {
        "WSC_MAX_ATTACHMENT_SIZE_MB": "16",
        "WSC_DATABASE_TIMEOUT_SECONDS": str(DATABASE_TIMEOUT_S),
    }
    owner, a, b = await users.many(3)
    server = ServerProcess(env=env, log_path=tmp_path / "server.log")
    server.start(timeout=60)
    cookies = {"ZM_AUTH_TOKEN": owner.token}
    acknowledged: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=60) as client:
            created = await client.post(
                "/rooms", json={"name": "g", "type": "group", "membersIds": [str(a.id), str(b.id)]}
            )
            assert created.status_code == 201
            room_id = created.json()["id"]
            enough = asyncio.Event()

            async def upload(index: int) -> None:
                # Staggered starts: when the first ones are acknowledged, the rest are still
                # in flight (or not sent yet).
                await asyncio.sleep(index * 0.05)
                data = payload(index, UPLOAD_SIZE)
                headers = {
                    "fileName": encode_text(f"file-{index}.bin"),
                    "mimeType": "application/octet-stream",
                    "Content-Length": str(len(data)),
                }
                try:
                    response = await client.post(
                        f"/rooms/{room_id}/attachments",
                        content=paced_body(data, CHUNK, 0.02),
                        headers=headers,
                    )
                except httpx.HTTPError:
                    return  # cut by the kill: not acknowledged
                if response.status_code == 201:
                    acknowledged[response.json()["id"]] = index
                    if len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED:
                        enough.set()

            tasks = [asyncio.create_task(upload(i)) for i in range(UPLOADS)]
            async with asyncio.timeout(120):
                await enough.wait()
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL
            await asyncio.gather(*tasks)
    finally:
        server.stop()
    # Some uploads were still in flight when the process died.
    assert KILL_AFTER_ACKNOWLEDGED <= len(acknowledged) < UPLOADS

    # Bytes without a row, as a process killed between storing and committing leaves them.
    planted = f"files/{uuid.uuid4()}"
    await stored.write(planted, b"orphan")
    assert storage_check(env).returncode == 1

    restarted = ServerProcess(env=env, log_path=tmp_path / "restarted.log")
    restarted.start(timeout=60)
    try:
        # The start-up sweep runs in the background; wait (bounded) for it to have repaired.
        result = storage_check(env)
        deadline = asyncio.get_running_loop().time() + SWEEP_DEADLINE_S
        while result.returncode != 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(1)
            result = storage_check(env)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert await stored.read(planted) is None

        async with httpx.AsyncClient(base_url=restarted.url, cookies=cookies, timeout=60) as client:
            listing = await client.get(
                f"/rooms/{room_id}/attachments", params={"itemsNumber": "100"}
            )
            listed = {item["id"] for item in listing.json()["attachments"]}
            assert set(acknowledged) <= listed
            for file_id, index in acknowledged.items():
                download = await client.get(f"/attachments/{file_id}/download")
                assert download.status_code == 200
                expected = hashlib.sha256(payload(index, UPLOAD_SIZE)).hexdigest()
                assert hashlib.sha256(download.content).hexdigest() == expected
            # Whatever was committed is whole: rows that made it are all downloadable.
            for file_id in listed - set(acknowledged):
                download = await client.get(f"/attachments/{file_id}/download")
                assert download.status_code == 200
                assert len(download.content) == UPLOAD_SIZE
    finally:
        restarted.stop()
