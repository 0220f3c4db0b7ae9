"""Helpers for the tests that crash or stop a real `wschats serve` (kill -9, SIGTERM).

Starting servers and writing users is `wschats.devtools.servers`, shared with bench/.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from collections.abc import AsyncIterator

from wschats.devtools.servers import WSCHATS


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
