"""SIGTERM under load: in-flight requests complete, new connections are refused, websockets
are closed cleanly, and the process exits by itself."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import storage_check
from wschats.devtools.servers import ServerProcess, create_user, server_env
from wschats.domain.escapes import encode_text


async def test_graceful_shutdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, token = await create_user(url, "alice")
    server = ServerProcess(env=server_env(tmp_path, url), log_path=tmp_path / "server.log")
    server.start()
    headers = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    refused = 0
    try:
        async with connect(server.ws_url + "/events", additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "websocketConnected"

            async def one(client: httpx.AsyncClient, index: int) -> None:
                nonlocal refused
                try:
                    response = await client.post(
                        "/rooms",
                        json={"type": "temporary", "name": f"t{index}"},
                        headers=headers,
                    )
                    statuses.append(response.status_code)
                except httpx.ConnectError:
                    refused += 1  # arrived after the listener closed

            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
                first = [asyncio.create_task(one(client, i)) for i in range(40)]
                await asyncio.sleep(0.05)
                assert server.proc is not None
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(1.0)
                late = [asyncio.create_task(one(client, 100 + i)) for i in range(5)]
                await asyncio.gather(*first, *late)

            # The events of rooms created before the signal may come first; then the close.
            events = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    events.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            assert {event["type"] for event in events} <= {"ROOM_CREATED"}
            assert len(events) <= len(statuses)
            # A clean close frame (going away / service restart), not an abnormal drop (1006).
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code in (1001, 1012)
        exit_code = server.proc.wait(30)
    finally:
        server.stop()
    # uvicorn re-raises the signal once its graceful shutdown is complete.
    assert exit_code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_path.read_text()
    # Every request that got an answer was served whole; late ones were refused, not dropped.
    assert statuses and all(status == 201 for status in statuses), statuses
    assert refused >= 5
    assert len(statuses) + refused == 45


async def trickle(data: bytes, pieces: int = 20) -> AsyncIterator[bytes]:
    step = len(data) // pieces
    for start in range(0, len(data), step):
        yield data[start : start + step]
        await asyncio.sleep(0.05)


async def test_uploads_in_flight_at_sigterm_complete_and_leave_no_partial_files(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, token = await create_user(url, "alice")
    env = server_env(tmp_path / "data", url)
    server = ServerProcess(env=env, log_path=tmp_path / "server.log")
    server.start()
    headers = {"Authorization": f"Bearer {token}"}
    payloads = [bytes([i]) * 400_000 for i in range(8)]
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
        room = (await client.post("/rooms", json={"type": "temporary", "name": "t"})).json()["id"]

        async def upload(index: int) -> httpx.Response:
            return await client.post(
                f"/rooms/{room}/attachments",
                content=trickle(payloads[index]),
                headers={
                    "fileName": encode_text(f"f{index}.bin"),
                    "mimeType": "application/octet-stream",
                    "Content-Length": str(len(payloads[index])),
                },
            )

        uploads = [asyncio.create_task(upload(i)) for i in range(len(payloads))]
        await asyncio.sleep(0.3)  # every upload is under way, none is finished
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        responses = await asyncio.gather(*uploads)
    assert server.proc.wait(30) in (0, -signal.SIGTERM)
    # In-flight uploads were allowed to finish, whole.
    assert [r.status_code for r in responses] == [201] * len(payloads)
    files = tmp_path / "data" / "files"
    assert not [p for p in files.rglob("*") if p.name.startswith(".tmp-")]
    check = await asyncio.to_thread(storage_check, env)
    assert check.returncode == 0, check.stdout + check.stderr
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
            for response, payload in zip(responses, payloads, strict=True):
                stored = await client.get(f"/attachments/{response.json()['id']}/download")
                assert stored.content == payload
    finally:
        server.stop()


async def test_a_request_sent_on_an_idle_connection_at_shutdown_is_answered(
    tmp_path: Path,
) -> None:
    """A connection accepted before SIGTERM whose request comes as shutdown begins (the
    listener already closed) gets its answer, then the connection closes; uvicorn alone
    closed it unanswered."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await create_user(url, "alice")
    server = ServerProcess(env=server_env(tmp_path, url), log_path=tmp_path / "server.log")
    server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.2)  # accepted, idle
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            while True:  # until the listener is closed: shutdown has begun
                try:
                    _, probe = await asyncio.open_connection("127.0.0.1", server.port)
                except (ConnectionRefusedError, ConnectionResetError):
                    # Reset: the attempt was still in the listener's backlog when it closed.
                    break
                probe.close()
                await asyncio.sleep(0.005)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read()  # until the server closes the connection
        writer.close()
        assert answer.startswith(b"HTTP/1.1 204 "), answer
        assert b"connection: close" in answer.lower()
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        server.stop()
