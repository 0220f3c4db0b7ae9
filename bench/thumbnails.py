"""Benchmark: a 12-megapixel JPEG -> 256x256 thumbnail over HTTP against a real `wschats serve`.

Measures, in one run:
1. the median latency of an uncached thumbnail (each sample a different uploaded copy of the
   picture), against the same operation done in this process with Pillow (target <= 1.3x);
2. the median latency of a cached repeat, asked five times after each uncached render,
   against the uncached one (target >= 50x faster): asked by aiohttp, and by a minimal
   HTTP/1.1 client, whose figure the target is judged on (aiohttp adds about 0.3 ms of its
   own, unsteady); for scale, a no-op (/health/live) asked the same way;
3. the p99 latency of `/health/live` while 4 clients request uncached thumbnails (distinct
   areas), against idle (target <= 3x); for scale, the p99 of a bare ASGI app in another
   process under the same load. The probe runs in a process of its own, as a health checker
   does: asked from the loaders' event loop, it also timed that loop's own work.
Prints the figures and appends them, with the command, to bench/RESULTS.md.

    .venv/bin/python bench/thumbnails.py [--samples 15] [--load-seconds 10] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.common, when run as a script

from bench.common import BIN, RESULTS, free_port, process, record_results  # noqa: E402
from wschats.devtools.servers import ServerProcess, create_user, server_env  # noqa: E402

SECTION = "## Thumbnails (bench/thumbnails.py)"
# Answers every request 204 at once: what any server on this machine gets, for scale.
BARE_NO_OP_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""
SIZE = (4000, 3000)
BOX = (256, 256)
JPEG_QUALITY_MEDIUM = 50  # the previewer's default quality ("medium")


def camera_picture() -> bytes:
    """A 12 MP JPEG with photo-like detail (smooth gradients and sensor-like noise)."""
    gradient = Image.linear_gradient("L").resize(SIZE)
    across = Image.linear_gradient("L").rotate(90).resize(SIZE)
    base = Image.merge("RGB", (gradient, across, Image.radial_gradient("L").resize(SIZE)))
    noise = Image.effect_noise(SIZE, 24).convert("RGB")
    picture = Image.blend(base, noise, 0.25)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def pillow_thumbnail(path: Path) -> bytes:
    """The same work done the usual way in-process: reduced decode, cover-crop, encode."""
    with Image.open(path) as image:
        image.draft("RGB", BOX)
        upright = ImageOps.exif_transpose(image)
        thumbnail = ImageOps.fit(upright, BOX, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        thumbnail.save(buffer, "JPEG", quality=JPEG_QUALITY_MEDIUM)
        return buffer.getvalue()


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


@dataclass
class Bench:
    """The client side, on aiohttp: it costs less per request than httpx, so more of what
    is measured is the server."""

    session: aiohttp.ClientSession
    headers: dict[str, str]
    room_id: str

    async def upload(self, content: bytes) -> str:
        headers = {**self.headers, "fileName": "\\u0061\\u002e\\u006a\\u0070\\u0067",
                   "mimeType": "image/jpeg"}  # fmt: skip
        url = f"/rooms/{self.room_id}/attachments"
        async with self.session.post(url, headers=headers, data=content) as response:
            response.raise_for_status()
            return str((await response.json())["id"])

    async def thumbnail(self, file_id: str, area: str = "256x256") -> float:
        began = time.perf_counter()
        url = f"/preview/image/{file_id}/{area}/thumbnail"
        async with self.session.get(url, headers=self.headers) as response:
            await response.read()
        elapsed = time.perf_counter() - began
        response.raise_for_status()
        assert response.headers["content-type"] == "image/jpeg"
        return elapsed

    async def metadata(self, file_id: str) -> float:
        """GET /attachments/{id}: the same authentication and access checks, no bytes."""
        began = time.perf_counter()
        async with self.session.get(f"/attachments/{file_id}", headers=self.headers) as response:
            await response.read()
        elapsed = time.perf_counter() - began
        response.raise_for_status()
        return elapsed


@dataclass
class MinimalClient:
    """HTTP/1.1 on one kept-alive connection, with nothing but what a GET needs: aiohttp's
    own work, about 0.3 ms a request here, is most of what is left of a cached answer."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    head: bytes  # the request's header lines, after the request line

    @classmethod
    async def connect(cls, port: int, token: str) -> MinimalClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        return cls(reader, writer, head)

    async def get(self, path: str) -> tuple[float, int, bytes]:
        """Seconds, status and content type of a GET of `path`, its body read whole."""
        began = time.perf_counter()
        self.writer.write(b"GET %s HTTP/1.1\r\n" % path.encode())
        self.writer.write(self.head)
        status, *headers = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        fields = dict(line.lower().split(b": ", 1) for line in headers if line)
        await self.reader.readexactly(int(fields.get(b"content-length", b"0")))
        return time.perf_counter() - began, int(status.split()[1]), fields.get(b"content-type", b"")

    async def thumbnail(self, file_id: str) -> float:
        elapsed, status, content_type = await self.get(
            f"/preview/image/{file_id}/256x256/thumbnail"
        )
        assert status == 200 and content_type == b"image/jpeg"
        return elapsed

    async def health(self) -> float:
        elapsed, status, _ = await self.get("/health/live")
        assert status == 204
        return elapsed

    def close(self) -> None:
        self.writer.close()


def event_loop_cpu(pid: int) -> float:
    """CPU seconds of the server's main thread, which runs the event loop (the thread whose
    id is the process id)."""
    return next(t.user_time + t.system_time for t in psutil.Process(pid).threads() if t.id == pid)


# A blocking HTTP/1.1 client on one kept-alive connection: asks /health/live every 5 ms for
# the given seconds and prints the latencies, one a line.
HEALTH_PROBE = """
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
connection = socket.create_connection(("127.0.0.1", port))
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
request = b"GET /health/live HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n"
latencies, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    began = time.perf_counter()
    connection.sendall(request)
    answer = b""
    while b"\\r\\n\\r\\n" not in answer:
        answer += connection.recv(4096)
    latencies.append(time.perf_counter() - began)
    assert answer.startswith(b"HTTP/1.1 204 "), answer
    time.sleep(0.005)
print("\\n".join(map(str, latencies)))
"""


async def health_latencies(port: int, seconds: float) -> list[float]:
    """/health/live latencies measured from a process of its own for `seconds`."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HEALTH_PROBE, str(port), str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await probe.communicate()
    if probe.returncode != 0:
        raise RuntimeError("the /health/live probe failed")
    return [float(line) for line in out.split()]


async def run(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    work = Path(tempfile.mkdtemp(prefix="bench-thumbnails-"))
    picture = camera_picture()
    source = work / "camera.jpg"
    source.write_bytes(picture)
    say(f"source: {SIZE[0]}x{SIZE[1]} JPEG, {len(picture) / 1e6:.1f} MB; target {BOX[0]}x{BOX[1]}")
    say(f"load average before: {_load()}")

    pillow_thumbnail(source)  # warm up (imports, caches)
    pillow: list[float] = []

    database_url = f"sqlite:///{work / 'wschats.db'}"
    _, token = await create_user(database_url, "bench")
    extra = {"WSC_PREVIEW_WORKERS": str(args.workers)} if args.workers else {}
    server = ServerProcess(server_env(work / "data", database_url, extra), work / "server.log")
    server.start()
    try:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(server.url, timeout=timeout) as session:
            headers = {"Authorization": f"Bearer {token}"}
            room = {"type": "temporary", "name": "bench"}
            async with session.post("/rooms", headers=headers, json=room) as created:
                created.raise_for_status()
                bench = Bench(session, headers, (await created.json())["id"])

            warm = await bench.upload(picture)
            await bench.thumbnail(warm)  # starts the worker pool
            files = [await bench.upload(picture) for _ in range(args.samples)]

            # Interleaved, so a change in the machine's load touches all three alike. The
            # repeats ask for the previous file's thumbnail, cached since (it is written
            # just after the first answer).
            first: list[float] = []
            cached: list[float] = []
            floor: list[float] = []
            no_op: list[float] = []
            for index, file_id in enumerate(files):
                began = time.perf_counter()
                pillow_thumbnail(source)  # in this process: the client's own loop waits
                pillow.append(time.perf_counter() - began)
                first.append(await bench.thumbnail(file_id))
                if index:
                    cached += [await bench.thumbnail(files[index - 1]) for _ in range(5)]
                    floor += [await bench.metadata(files[index - 1]) for _ in range(5)]

            # The same pattern twice more, asked by the minimal client: Pillow here, another
            # uncached render (a new area), then the cached repeats once, and /health/live in
            # their place the other time. What a no-op costs at those moments bounds what any
            # answer can reach (the machine is waking from the render's wait).
            minimal = await MinimalClient.connect(server.port, token)
            minimal_cached: list[float] = []
            for index, file_id in enumerate(files):
                pillow_thumbnail(source)
                await bench.thumbnail(file_id, "254x254")
                if index:
                    minimal_cached += [await minimal.thumbnail(files[index - 1]) for _ in range(5)]
            for file_id in files:
                pillow_thumbnail(source)
                await bench.thumbnail(file_id, "255x255")
                no_op += [await minimal.health() for _ in range(5)]
            minimal.close()

            idle = await health_latencies(server.port, args.load_seconds / 2)

            thumbnails_done = 0
            stop = asyncio.Event()

            async def thumbnail_client(index: int) -> None:
                nonlocal thumbnails_done
                count = 0
                while not stop.is_set():
                    # A new area each time: every request renders.
                    area = f"{256 + index}x{256 + count // len(files)}"
                    await bench.thumbnail(files[count % len(files)], area)
                    count += 1
                    thumbnails_done += 1

            loaders = [asyncio.create_task(thumbnail_client(i)) for i in range(4)]
            busy = await health_latencies(server.port, args.load_seconds)
            stop.set()
            await asyncio.gather(*loaders)
            rendered_under_probe = thumbnails_done

            # The machine's share of that: the same load, the probe asking a bare ASGI app
            # on uvicorn (the same parser and event loop) in another process instead.
            (work / "bare_no_op.py").write_text(BARE_NO_OP_APP)
            bare_port = free_port()
            bare_url = f"http://127.0.0.1:{bare_port}"
            bare = [str(BIN / "uvicorn"), "--app-dir", str(work), "--port", str(bare_port)]
            with process([*bare, "--log-level", "warning", "bare_no_op:app"], {}, bare_url, "/"):
                bare_idle = await health_latencies(bare_port, args.load_seconds / 2)
                # Also the server's event loop CPU per render: none of the probe's requests
                # reach it in this phase.
                assert server.proc is not None
                loop_cpu = -event_loop_cpu(server.proc.pid)
                rendered = -thumbnails_done
                stop = asyncio.Event()
                # Widths the first phase did not ask for: these render too.
                loaders = [asyncio.create_task(thumbnail_client(i)) for i in range(4, 8)]
                bare_busy = await health_latencies(bare_port, args.load_seconds)
                stop.set()
                await asyncio.gather(*loaders)
                loop_cpu += event_loop_cpu(server.proc.pid)
                rendered += thumbnails_done
    finally:
        server.stop()

    http_median, pillow_median = median_ms(first), median_ms(pillow)
    cached_median = median_ms(cached)
    idle_p99, busy_p99 = p99_ms(idle), p99_ms(busy)
    say(f"in-process Pillow        median {pillow_median:8.2f} ms  ({len(pillow)} runs)")
    say(f"HTTP thumbnail, uncached median {http_median:8.2f} ms  ({len(first)} files)")
    say(
        f"  ratio HTTP/Pillow {http_median / pillow_median:.2f} (target <= 1.3) "
        f"{'OK' if http_median / pillow_median <= 1.3 else 'MISSED'}"
    )
    say(f"HTTP thumbnail, cached   median {cached_median:8.2f} ms  ({len(cached)} requests)")
    say(
        f"  for scale: GET /attachments/{{id}} median {median_ms(floor):.2f} ms (the same "
        "authentication and access checks, no bytes)"
    )
    say(f"  cached speed-up, asked by aiohttp: {http_median / cached_median:.0f}x")
    # The target is judged on the minimal client's figure: aiohttp's own work is about 0.3 ms
    # and unsteady (session 4: aiohttp's cached median went from 0.94 to 1.56 ms from run to
    # run, the minimal client's stayed within 0.78 to 0.82 ms), and it is not the server's.
    minimal_median = median_ms(minimal_cached)
    speedup = http_median / minimal_median
    say(f"  the same cached repeats by a minimal HTTP/1.1 client: median {minimal_median:.2f} ms")
    say(f"  cached speed-up {speedup:.0f}x (target >= 50x) {'OK' if speedup >= 50 else 'MISSED'}")
    say(
        f"  floor: /health/live (no authentication, no database, no body) asked the same way "
        f"by the minimal client, median {median_ms(no_op):.2f} ms, so at most "
        f"{http_median / median_ms(no_op):.0f}x"
    )
    say(f"/health/live idle        p99 {idle_p99:8.2f} ms  ({len(idle)} requests)")
    say(
        f"/health/live, 4 clients  p99 {busy_p99:8.2f} ms  ({len(busy)} requests, "
        f"{rendered_under_probe} thumbnails rendered meanwhile)"
    )
    say(
        f"  for scale: a bare ASGI app on uvicorn, asked the same way: idle p99 "
        f"{p99_ms(bare_idle):.2f} ms, under the same load p99 {p99_ms(bare_busy):.2f} ms "
        f"({len(bare_busy)} requests; ratio {p99_ms(bare_busy) / p99_ms(bare_idle):.2f}), the "
        f"machine's own share; wschats' event loop meanwhile: "
        f"{loop_cpu / max(1, rendered) * 1000:.2f} ms of CPU per thumbnail rendered ({rendered})"
    )
    ratio = busy_p99 / idle_p99
    say(f"  ratio busy/idle {ratio:.2f} (target <= 3) {'OK' if ratio <= 3 else 'MISSED'}")
    say(f"load average after: {_load()}")
    return lines


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=15, help="uncached thumbnails to time")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=0, help="WSC_PREVIEW_WORKERS (0: default)")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    lines = asyncio.run(run(args))
    if not args.no_record:
        command = shlex.join([".venv/bin/python", "bench/thumbnails.py", *sys.argv[1:]])
        record_results(SECTION, command, lines)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
