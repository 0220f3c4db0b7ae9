"""Benchmark: one 1 GiB attachment upload to a real `wschats serve` (SQLite, local storage).

Measures, in the same run and on the same disk:
- the server's peak RSS growth during the upload (psutil, sampled every 10 ms), target
  <= 64 MiB: uploads stream to storage, memory does not grow with the file;
- the upload's throughput against `cp` of the same file (followed by an fsync of the copy, as
  the server fsyncs what it stores), target >= 50 %.

Prints the figures and appends them, with the command, to bench/RESULTS.md.

    .venv/bin/python bench/upload.py [--size-mib 1024] [--no-record]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BIN, RESULTS, ROOT, free_port, process, record_results
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.domain.escapes import encode_text
from wschats.ports import NewUser

# The ceiling of the HTTP server itself: a bare ASGI app that reads the body and drops it.
BARE_INGEST_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    total, more = 0, True
    while more:
        message = await receive()
        total += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = b'{"id": "%d"}' % total
    length = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": length})
    await send({"type": "http.response.body", "body": body})
"""
SECTION = "## Upload (bench/upload.py)"
MIB = 1024 * 1024
READ_CHUNK = 1 * MIB
RSS_TARGET_MIB = 64
THROUGHPUT_TARGET = 0.5


def make_source(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as file:
        written = 0
        while written < size:
            part = block[: min(len(block), size - written)]
            file.write(part)
            written += len(part)


def timed_cp(source: Path, target: Path) -> tuple[float, float]:
    """Seconds for `cp`, and for `cp` plus an fsync of the copy (from a clean page cache
    state: everything dirty written back first)."""
    subprocess.run(["sync"], check=True)
    began = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    copied = time.perf_counter() - began
    subprocess.run(["sync", str(target)], check=True)
    synced = time.perf_counter() - began
    target.unlink()
    return copied, synced


async def seed(database_url: str) -> tuple[str, list[str]]:
    upgrade(database_url)
    database = SqlDatabase(database_url)
    try:
        directory = DirectoryIdentity(database)
        ids = await directory.add_users(
            [NewUser(email=f"u{i}@bench.example", name=f"U{i}") for i in range(3)]
        )
        return await directory.issue_token(ids[0], 3600), [str(i) for i in ids[1:]]
    finally:
        await database.close()


class PeakRss:
    """Samples a process's resident set size in a thread until stopped."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(READ_CHUNK):
            yield chunk


def sendfile_upload(port: int, token: str, room: str, source: Path, size: int) -> str:
    """The upload as a browser or curl sends it: the head, then the file handed to the kernel
    (sendfile), so the client costs next to nothing and the figure is the server's."""
    head = (
        f"POST /rooms/{room}/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: ZM_AUTH_TOKEN={token}\r\nfileName: {encode_text(source.name)}\r\n"
        f"mimeType: application/octet-stream\r\nContent-Length: {size}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.sendall(head.encode())
        with source.open("rb") as file:
            sock.sendfile(file)
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = bytes(answer).partition(b"\r\n")
    if b" 201 " not in status_line:
        raise RuntimeError(f"upload failed: {bytes(answer)[:500]!r}")
    body = rest.split(b"\r\n\r\n", 1)[1]
    return str(json.loads(body)["id"])


async def upload(client: httpx.AsyncClient, room: str, source: Path, size: int) -> str:
    headers = {
        "fileName": encode_text(source.name),
        "mimeType": "application/octet-stream",
        "Content-Length": str(size),
    }
    response = await client.post(
        f"/rooms/{room}/attachments", content=file_chunks(source), headers=headers
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
    return str(response.json()["id"])


async def measure(
    base: str, pid: int, token: str, members: list[str], work: Path, size: int
) -> tuple[int, int, float, str]:
    """Baseline RSS, peak RSS, seconds and file id of one upload of `work/source.bin`."""
    limits = httpx.Limits(max_connections=1)
    cookies = {"ZM_AUTH_TOKEN": token}
    async with httpx.AsyncClient(
        base_url=base, cookies=cookies, timeout=600, limits=limits
    ) as client:
        created = await client.post(
            "/rooms", json={"name": "bench", "type": "group", "membersIds": members}
        )
        room = created.json()["id"]
        # Warm up every code path of an upload with a small file first.
        warm = work / "warm.bin"
        make_source(warm, 4 * MIB)
        await upload(client, room, warm, 4 * MIB)
        await asyncio.sleep(1.0)
        baseline = psutil.Process(pid).memory_info().rss
        await asyncio.to_thread(subprocess.run, ["sync"], check=True)
        port = int(base.rsplit(":", 1)[1])
        with PeakRss(pid) as rss:
            began = time.perf_counter()
            file_id = await asyncio.to_thread(
                sendfile_upload, port, token, room, work / "source.bin", size
            )
            elapsed = time.perf_counter() - began
    return baseline, rss.peak, elapsed, file_id


def run(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="wschats-upload-bench-") as scratch:
        work = Path(scratch)
        data_dir = work / "data"
        data_dir.mkdir()
        source = work / "source.bin"
        make_source(source, size)
        same_disk = os.stat(source).st_dev == os.stat(data_dir).st_dev
        say(f"file: {args.size_mib} MiB of random bytes; on the storage's disk: {same_disk}")

        database_url = f"sqlite:///{data_dir / 'wschats.db'}"
        token, members = asyncio.run(seed(database_url))
        # The median of three copies: the disk's write-back makes single runs noisy.
        copies = sorted(timed_cp(source, work / "copy.bin") for _ in range(3))
        copied, synced = sorted(c for c, _ in copies)[1], sorted(s for _, s in copies)[1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "WSC_DATA_DIR": str(data_dir),
            "WSC_DATABASE_URL": database_url,
            "WSC_MAX_ATTACHMENT_SIZE_MB": str(args.size_mib + 1),
        }
        command = [str(BIN / "wschats"), "serve", "--port", str(port)]
        with process(command, env, base, "/health/live") as server:
            baseline, peak, elapsed, file_id = asyncio.run(
                measure(base, server.pid, token, members, work, size)
            )
        (work / "bare_ingest.py").write_text(BARE_INGEST_APP)
        bare_port = free_port()
        bare_base = f"http://127.0.0.1:{bare_port}"
        bare = [str(BIN / "uvicorn"), "--app-dir", str(work), "--port", str(bare_port)]
        with process([*bare, "--log-level", "warning", "bare_ingest:app"], {}, bare_base, "/"):
            subprocess.run(["sync"], check=True)
            began = time.perf_counter()
            sendfile_upload(bare_port, token, "bare", source, size)
            bare_elapsed = time.perf_counter() - began
        stored = data_dir / "files" / "files" / file_id  # the storage root, then the key
        if stored.stat().st_size != size:
            raise RuntimeError(f"stored {stored.stat().st_size} bytes, sent {size}")

    growth = (peak - baseline) / MIB
    upload_rate = size / MIB / elapsed
    cp_rate = size / MIB / synced
    ratio = upload_rate / cp_rate
    say(f"server RSS before: {baseline / MIB:.1f} MiB, peak during upload: {peak / MIB:.1f} MiB")
    say(
        f"  peak RSS growth {growth:.1f} MiB (target <= {RSS_TARGET_MIB}) "
        f"{'OK' if growth <= RSS_TARGET_MIB else 'MISSED'}"
    )
    say(f"upload: {elapsed:.2f} s, {upload_rate:.0f} MiB/s")
    bare_rate = size / MIB / bare_elapsed
    say(
        f"  (the HTTP server alone, a bare ASGI app dropping the body: {bare_rate:.0f} MiB/s;"
        f" the upload reaches {upload_rate / bare_rate:.0%} of it)"
    )
    cp_alone = size / MIB / copied
    say(
        f"cp + fsync (median of 3): {synced:.2f} s, {cp_rate:.0f} MiB/s"
        f" (cp alone: {cp_alone:.0f} MiB/s)"
    )
    say(
        f"  upload / (cp + fsync) {ratio:.0%} (target >= {THROUGHPUT_TARGET:.0%}) "
        f"{'OK' if ratio >= THROUGHPUT_TARGET else 'MISSED'}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the upload")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    lines = run(args)
    if not args.no_record:
        command = shlex.join([".venv/bin/python", "bench/upload.py", *sys.argv[1:]])
        record_results(SECTION, command, lines)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
