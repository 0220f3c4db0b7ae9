"""Helpers shared by the benchmarks: server processes, load loops, percentiles."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Idle connections are dropped by the client before uvicorn's 5 s keep-alive timeout closes
# them: otherwise a request sent as the server closes gets "Server disconnected".
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_live(base_url: str, path: str = "/health/live", timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + path, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base_url} did not come up")


@contextmanager
def process(
    args: list[str], env: Mapping[str, str], base_url: str, live_path: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        wait_live(base_url, live_path)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.rps:8.1f} req/s  p50 {self.pct(0.5):7.2f} ms  "
            f"p99 {self.pct(0.99):7.2f} ms  mean {statistics.mean(self.latencies) * 1000:7.2f} ms"
            f"  errors {self.errors}"
        )


async def load(url: str, *, headers: Mapping[str, str], total: int, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await client.get(url, headers=headers)  # warm up
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return LoadResult(total, elapsed, latencies, errors)


RESULTS = ROOT / "bench" / "RESULTS.md"


def record_results(section: str, command: str, lines: list[str]) -> None:
    """Append a run (date, machine, command, output) at the end of `section` of RESULTS.md,
    keeping everything else; the section is added if missing."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpus = len(os.sched_getaffinity(0))
    machine = f"{platform.machine()}, {platform.python_version()}, {cpus} CPUs"
    entry = "\n".join([f"### {stamp} ({machine})", "", "```", f"$ {command}", *lines, "```", ""])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if section not in text:
        text = text.rstrip("\n") + f"\n\n{section}\n\n"
    start = text.index(section) + len(section)
    following = text.find("\n## ", start)
    end = len(text) if following == -1 else following + 1
    body = text[start:end].rstrip("\n") + "\n\n" + entry
    RESULTS.write_text(text[:start] + body + ("\n" + text[end:] if following != -1 else ""))
