"""Benchmark: how fast a session end closes event sockets, and what open sockets cost.

1. Time from a command-line revoke (`wschats token revoke TOKEN`, another process) to the close
   of the token's socket, against the same after an API logout (`DELETE /auth/token`), on one
   server with the embedded defaults (SQLite, events in-process). Target: within 2 s.
2. The server's RSS and open descriptors with no socket, with `--users` users holding the
   per-user cap of sockets each (memory and descriptors per socket), and after one user tried
   to open `--attempts` sockets (refused beyond the cap).

    .venv/bin/python bench/sessions.py [--rounds 5] [--users 25] [--attempts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wschats.devtools.servers import WSCHATS, ServerProcess, create_user, server_env

PER_USER = 16  # the default of WSC_EVENTS_MAX_SOCKETS_PER_USER


async def open_socket(server: ServerProcess, token: str) -> ClientConnection:
    ws = await connect(
        server.ws_url + "/events", additional_headers={"Authorization": f"Bearer {token}"}
    )
    assert json.loads(await ws.recv())["type"] == "websocketConnected"
    return ws


async def closed_at(ws: ClientConnection) -> float:
    """When the server closed the socket (perf_counter)."""
    try:
        async with asyncio.timeout(60):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return time.perf_counter()
    raise AssertionError("unreachable")


async def revoke_round(server: ServerProcess, via_cli: bool) -> tuple[float, float]:
    """(seconds from the end taking effect to the close, seconds the command took to get
    there; 0 for the API). The command says `revoked` once its transaction has committed."""
    _, token = await create_user(server.env["WSC_DATABASE_URL"], "r")
    ws = await open_socket(server, token)
    closing = asyncio.create_task(closed_at(ws))
    started = time.perf_counter()
    if via_cli:
        command = await asyncio.create_subprocess_exec(
            WSCHATS,
            "token",
            "revoke",
            token,
            env={**os.environ, **server.env},
            stdout=asyncio.subprocess.PIPE,
        )
        assert command.stdout is not None
        assert (await command.stdout.readline()).strip() == b"revoked"
        effective = time.perf_counter()
        assert await command.wait() == 0
    else:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.delete(
                "/auth/token", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 204
        effective = started  # the API call itself is what ends it
    return await closing - effective, effective - started


def footprint(pid: int) -> tuple[float, int]:
    proc = psutil.Process(pid)
    return proc.memory_info().rss / 2**20, proc.num_fds()


async def settle(pid: int) -> tuple[float, int]:
    await asyncio.sleep(1.0)
    return footprint(pid)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--attempts", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = ServerProcess(
            env=server_env(data, f"sqlite:///{data / 'wschats.db'}"), log_path=data / "log"
        )
        server.start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            print("1. session end to socket close (one server, embedded defaults)")
            for label, via_cli in (("API logout (baseline)", False), ("CLI revoke", True)):
                rounds = [await revoke_round(server, via_cli) for _ in range(args.rounds)]
                closes = [r[0] for r in rounds]
                line = (
                    f"   {label:22} close after median {statistics.median(closes) * 1000:7.1f} ms,"
                    f" max {max(closes) * 1000:7.1f} ms"
                )
                if via_cli:
                    command_ms = statistics.median(r[1] for r in rounds) * 1000
                    line += (
                        " from the command's commit (target <= 2000 ms: "
                        + ("OK" if max(closes) <= 2 else "MISSED")
                        + f"); the command took median {command_ms:.0f} ms to commit"
                    )
                else:
                    line += " from the request"
                print(line)

            print("2. server RSS and descriptors")
            rss0, fds0 = await settle(pid)
            print(f"   no socket:                          {rss0:7.1f} MiB {fds0:6d} fds")
            people = [
                await create_user(server.env["WSC_DATABASE_URL"], f"u{i}")
                for i in range(args.users)
            ]
            held: list[ClientConnection] = []
            for _, token in people:
                held += [await open_socket(server, token) for _ in range(PER_USER)]
            rss1, fds1 = await settle(pid)
            count = len(held)
            per_socket_kib = (rss1 - rss0) * 1024 / count
            print(
                f"   {count} sockets ({args.users} users x {PER_USER}):"
                f" {rss1:7.1f} MiB {fds1:6d} fds  per socket: {per_socket_kib:.1f} KiB,"
                f" {(fds1 - fds0) / count:.2f} fds"
            )
            for ws in held:
                await ws.close()
            rss2, fds2 = await settle(pid)
            _, token = people[0]
            accepted: list[ClientConnection] = []
            refused = 0
            started = time.perf_counter()
            for _ in range(args.attempts):
                try:
                    accepted.append(await open_socket(server, token))
                except InvalidStatus as error:
                    assert error.response.status_code == 429
                    refused += 1
            elapsed = time.perf_counter() - started
            rss3, fds3 = await settle(pid)
            print(
                f"   one user tries {args.attempts} sockets in {elapsed:.1f} s:"
                f" {len(accepted)} open, {refused} refused; {rss3:7.1f} MiB {fds3:6d} fds"
                f" (before: {rss2:.1f} MiB {fds2} fds;"
                f" {rss3 - rss2:+.1f} MiB, {fds3 - fds2:+d} fds)"
            )
            for ws in accepted:
                await ws.close()
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
