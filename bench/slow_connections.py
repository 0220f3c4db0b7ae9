"""Descriptors and memory of a `wschats serve` started with its defaults while 10,000 slow
connections (each a request head left half-sent) are held open against it, on 127.0.0.1.

Prints the server's descriptors and RSS before, at the peak, and once the server has closed
the connections (request head timeout), how each connection ended (408, 503 over the
connection bound, or reset), and whether a normal request was answered during the flood.

    .venv/bin/python -m bench.slow_connections [--connections 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import BIN, free_port, process
from wschats.adapters.db.migrate import upgrade

HALF_HEAD = b"GET /rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
GUARD_S = 90.0


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def slow_client(port: int, ended: Counter[str], opened: list[int]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        ended[f"connect failed ({type(error).__name__})"] += 1
        return
    opened[0] += 1
    try:
        writer.write(HALF_HEAD)
        async with asyncio.timeout(GUARD_S):
            answer = await reader.read()
        status = answer.split(b" ", 2)[1].decode() if answer else "closed, no answer"
        ended[status] += 1
    except TimeoutError:
        ended["still open at the guard"] += 1
    except OSError as error:
        ended[f"reset ({type(error).__name__})"] += 1
    finally:
        writer.close()


async def flood(pid: int, port: int, count: int) -> None:
    ended: Counter[str] = Counter()
    opened = [0]
    peak_fds, peak_rss = 0, 0.0
    start = time.monotonic()
    tasks = []
    for index in range(count):  # opened in batches, so the server's accept keeps up
        tasks.append(asyncio.create_task(slow_client(port, ended, opened)))
        if index % 500 == 499:
            await asyncio.sleep(0.05)
    normal: str = "not tried"
    sampled_normal = False
    while not all(task.done() for task in tasks) and time.monotonic() - start < GUARD_S + 30:
        peak_fds = max(peak_fds, descriptors(pid))
        peak_rss = max(peak_rss, rss_mib(pid))
        if not sampled_normal and opened[0] >= count * 0.9:
            sampled_normal = True
            try:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    response = await client.get(f"http://127.0.0.1:{port}/health/live")
                normal = str(response.status_code)
            except httpx.HTTPError as error:
                normal = type(error).__name__
        await asyncio.sleep(0.25)
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    print(f"connections opened {opened[0]} of {count}; all ended after {elapsed:.1f} s")
    print(f"peak: {peak_fds} descriptors, RSS {peak_rss:.1f} MiB")
    print(f"GET /health/live during the flood: {normal}")
    print(f"how they ended: {dict(ended)}")
    print(f"after: {descriptors(pid)} descriptors, RSS {rss_mib(pid):.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, args.connections + 1024)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    work = Path(tempfile.mkdtemp(prefix="wsc-slow-bench-"))
    try:
        url = f"sqlite:///{work / 'wschats.db'}"
        upgrade(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"WSC_DATA_DIR": str(work), "WSC_DATABASE_URL": url, "WSC_LOG_LEVEL": "warning"}
        with process(
            [str(BIN / "wschats"), "serve", "--port", str(port)], env, base, "/health/live"
        ) as proc:
            limits = Path(f"/proc/{proc.pid}/limits").read_text().splitlines()
            nofile = next(line for line in limits if line.startswith("Max open files"))
            print(f"server {nofile.split()[3]} descriptors allowed (soft); bench {wanted}")
            print(f"before: {descriptors(proc.pid)} descriptors, RSS {rss_mib(proc.pid):.1f} MiB")
            asyncio.run(flood(proc.pid, port, args.connections))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
