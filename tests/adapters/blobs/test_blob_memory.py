"""Uploads and downloads stream: this process's memory does not grow with the blob's size."""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from tests.adapters.blobs.support import MIB, Blobs, random_bytes

TOTAL = 200 * MIB
# A behaviour bound, far above the adapters' buffers (1 MiB local, one 8 MiB part for S3) and
# far below the 200 MiB a buffered upload would take.
MAX_GROWTH = 64 * MIB

_PROC_SELF = Path("/proc/self")


def _status_kib(field: str) -> int:
    status = (_PROC_SELF / "status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert found, f"no {field} in /proc/self/status"
    return int(found.group(1))


class PeakRss:
    """The highest resident size of this process since `reset()`.

    Linux keeps the high-water mark itself (VmHWM, reset through clear_refs), so a peak between
    two samples is not missed; where the reset is not allowed, samples are all there is.
    """

    def __init__(self) -> None:
        self._kernel_peak = False
        self.baseline = 0
        self.peak = 0

    def reset(self) -> None:
        gc.collect()
        try:
            (_PROC_SELF / "clear_refs").write_text("5")  # 5: reset the peak resident size
            self._kernel_peak = True
        except OSError:
            self._kernel_peak = False
        self.baseline = self.peak = _status_kib("VmRSS") * 1024

    def sample(self) -> None:
        self.peak = max(self.peak, _status_kib("VmRSS") * 1024)

    def growth(self) -> int:
        self.sample()
        if self._kernel_peak:
            self.peak = max(self.peak, _status_kib("VmHWM") * 1024)
        return self.peak - self.baseline


async def test_a_large_upload_and_download_keep_memory_flat(blobs: Blobs) -> None:
    block = random_bytes(MIB + 4099)
    sent = hashlib.sha256()
    rss = PeakRss()

    async def generated() -> AsyncIterator[bytes]:
        remaining = TOTAL
        while remaining:
            # A new object per chunk, as a network source gives: keeping chunks would show.
            chunk = memoryview(block)[: min(remaining, len(block))].tobytes()
            sent.update(chunk)
            remaining -= len(chunk)
            rss.sample()
            yield chunk

    rss.reset()
    assert await blobs.store.put("files/large", generated()) == TOTAL
    upload_growth = rss.growth()

    received = hashlib.sha256()
    size = 0
    rss.reset()
    async for chunk in blobs.store.get("files/large"):
        received.update(chunk)
        size += len(chunk)
        rss.sample()
    download_growth = rss.growth()

    assert size == TOTAL
    assert received.digest() == sent.digest()
    assert upload_growth < MAX_GROWTH, f"upload grew RSS by {upload_growth / MIB:.0f} MiB"
    assert download_growth < MAX_GROWTH, f"download grew RSS by {download_growth / MIB:.0f} MiB"
