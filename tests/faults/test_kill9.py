"""SIGKILL during 100 concurrent uploads and room mutations (issue 5): after a restart,
`wschats storage check` finds nothing orphaned and every acknowledged change is present."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from pathlib import Path

import httpx

from tests.servers import paced_body, payload, storage_check
from wschats.devtools.servers import ServerProcess, create_user, server_env
from wschats.domain.escapes import encode_text

CONCURRENT = 100
UPLOAD_SIZE = 512 * 1024
CHUNK = 32 * 1024
KILL_AFTER = 10  # acknowledged operations of each kind before the kill
DATABASE_TIMEOUT_S = 1


async def test_sigkill_under_uploads_and_mutations(scratch_postgres: str, tmp_path: Path) -> None:
    env = server_env(
        tmp_path / "data",
        scratch_postgres,
        {"WSC_DATABASE_TIMEOUT_SECONDS": str(DATABASE_TIMEOUT_S)},
    )
    _, alice = await create_user(scratch_postgres, "alice")
    bob_id, _ = await create_user(scratch_postgres, "bob")
    carol_id, _ = await create_user(scratch_postgres, "carol")
    server = ServerProcess(env=env, log_path=tmp_path / "server.log")
    server.start()
    headers = {"Authorization": f"Bearer {alice}"}
    uploads: dict[str, int] = {}  # acknowledged attachment id -> payload index
    created_rooms: dict[str, str] = {}  # acknowledged room id -> its name
    rooms: list[str] = []
    acknowledged = asyncio.Event()

    def ack() -> None:
        if len(uploads) >= KILL_AFTER and len(created_rooms) >= KILL_AFTER:
            acknowledged.set()

    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
        for i in range(10):
            created = await client.post(
                "/rooms",
                json={"type": "group", "name": f"g{i}", "membersIds": [str(bob_id), str(carol_id)]},
            )
            assert created.status_code == 201
            rooms.append(created.json()["id"])

        async def upload(index: int) -> None:
            room = rooms[index % len(rooms)]
            try:
                response = await client.post(
                    f"/rooms/{room}/attachments",
                    content=paced_body(payload(index, UPLOAD_SIZE), CHUNK, 0.01),
                    headers={
                        "fileName": encode_text(f"f{index}.bin"),
                        "mimeType": "application/octet-stream",
                        "Content-Length": str(UPLOAD_SIZE),
                    },
                )
            except httpx.HTTPError:
                return  # cut off by the kill: not acknowledged
            if response.status_code == 201:
                uploads[response.json()["id"]] = index
                ack()

        async def create_rooms(index: int) -> None:
            for step in range(20):
                name = f"t{index}-{step}"
                try:
                    response = await client.post(
                        "/rooms",
                        json={
                            "type": "group",
                            "name": name,
                            "membersIds": [str(bob_id), str(carol_id)],
                        },
                    )
                except httpx.HTTPError:
                    return  # cut off by the kill: not acknowledged
                if response.status_code == 201:
                    created_rooms[response.json()["id"]] = name
                    ack()

        tasks = [asyncio.create_task(upload(i)) for i in range(CONCURRENT // 2)]
        tasks += [asyncio.create_task(create_rooms(i)) for i in range(CONCURRENT // 2)]
        await asyncio.wait_for(acknowledged.wait(), 120)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        await asyncio.gather(*tasks, return_exceptions=True)

    assert uploads, "no upload was acknowledged before the kill"
    assert created_rooms, "no room creation was acknowledged before the kill"
    server.start()
    try:
        # Bytes of uploads cut off by the kill are swept at start-up; wait for the check.
        for _ in range(120):
            check = storage_check(env)
            if check.returncode == 0:
                break
            await asyncio.sleep(1)
        assert check.returncode == 0, check.stdout + check.stderr
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
            for file_id, index in uploads.items():
                download = await client.get(f"/attachments/{file_id}/download")
                assert download.status_code == 200, file_id
                expected = hashlib.sha256(payload(index, UPLOAD_SIZE)).hexdigest()
                assert hashlib.sha256(download.content).hexdigest() == expected
            for room_id, name in created_rooms.items():
                room = await client.get(f"/rooms/{room_id}")
                assert room.status_code == 200, room_id
                assert room.json()["name"] == name
                assert len(room.json()["members"]) == 3
    finally:
        server.stop()
