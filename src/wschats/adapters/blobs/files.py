"""Files driven from worker threads, so blob adapters never block the event loop on disk I/O."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import BinaryIO, TypeVar

from wschats.ports import DirectSource

# Temp files of unfinished writes; no key segment starts with a dot, so none is a key.
TEMP_PREFIX = ".tmp-"


def _fadvise_dontneed(fd: int, written: int) -> None:
    os.posix_fadvise(fd, 0, written, os.POSIX_FADV_DONTNEED)


# Linux starts writing dirty pages back on POSIX_FADV_DONTNEED. Doing so as an upload is
# written overlaps the disk's work with the network's, where the kernel would otherwise keep
# up to a tenth of memory dirty and leave it all to the commit's fsync (a 1 GiB upload: about
# 0.5 s of the client's wait here). It is asked for the whole file written so far, not just
# the newest part: that also drops the earlier parts, written back by now, from the page
# cache: a 1 GiB upload spliced from its socket (api/server/direct_body.py) went from 560-960 to
# 1,200-1,430 MiB/s here.
_start_writeback = _fadvise_dontneed if hasattr(os, "POSIX_FADV_DONTNEED") else None

_T = TypeVar("_T")
# A body moved by the kernel is handed to write-back in steps of this size.
_WRITEBACK_STEP = 8 * 1024 * 1024


class ThreadFile:
    """A file used only from worker threads, one operation at a time.

    A cancelled `await` does not stop its worker thread: the lock makes the clean-up wait for
    an abandoned read or write instead of closing the file under it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.file: BinaryIO | None = None

    async def _run(self, operation: Callable[[], _T], executor: Executor | None = None) -> _T:
        def locked() -> _T:
            with self._lock:
                return operation()

        if executor is None:
            return await asyncio.to_thread(locked)
        return await asyncio.get_running_loop().run_in_executor(executor, locked)

    def _close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _opened(self) -> BinaryIO:
        if self.file is None:
            raise ValueError("file is closed")  # only reached by an abandoned operation
        return self.file


class Reader(ThreadFile):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path

    async def open(self, start: int) -> None:
        def open_at() -> None:
            file = self._path.open("rb")
            self.file = file
            file.seek(start)

        await self._run(open_at)

    async def read(self, size: int) -> bytes:
        return await self._run(lambda: self._opened().read(size))

    async def close(self) -> None:
        await self._run(self._close)


class PendingFile(ThreadFile):
    """A temp file beside `target` that becomes `target` on commit, or vanishes on discard."""

    def __init__(self, target: Path) -> None:
        super().__init__()
        self._target = target
        self._temp: Path | None = None
        self._committed = False
        self._discarded = False

    async def write(self, parts: list[bytes]) -> None:
        """Append `parts` in order (written by the thread as they are: no joining copy); the
        first write creates the temp file."""
        await self._run(lambda: self._write(parts))

    async def commit(self, last_parts: list[bytes]) -> None:
        """Append `last_parts`, then make the file the target: one thread hop, so a small
        blob is written, synced and renamed in one."""

        def write_and_commit() -> None:
            self._write(last_parts)
            self._commit()

        await self._run(write_and_commit)

    async def fill_and_commit(self, source: DirectSource, executor: Executor) -> int:
        """Let the kernel move `source` into the file, then commit: one hop, in `executor`
        (the whole body's time: not the default pool, where it would hold a thread that
        short operations need). Returns the byte count."""

        def fill_and_commit() -> int:
            if self._temp is None:
                self._open()
            fd = self._opened().fileno()
            size = 0
            while moved := source.move_into(fd, _WRITEBACK_STEP):
                size += moved
                if _start_writeback is not None:
                    _start_writeback(fd, size)
            self._commit()
            return size

        return await self._run(fill_and_commit, executor)

    async def discard(self) -> None:
        await self._run(self._discard)

    def _open(self) -> None:
        if self._discarded:
            return
        directory = self._target.parent
        for attempt in range(3):
            directory.mkdir(parents=True, exist_ok=True)
            try:
                fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
                break
            except FileNotFoundError:
                # A concurrent delete_prefix removed the (empty) directory just after mkdir.
                if attempt == 2:
                    raise
        self._temp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def _write(self, parts: list[bytes]) -> None:
        if self._temp is None:
            self._open()
        file = self._opened()
        file.writelines(parts)
        if _start_writeback is not None and parts:
            file.flush()
            _start_writeback(file.fileno(), file.tell())

    def _commit(self) -> None:
        if self._discarded or self._temp is None:
            raise ValueError("pending file was discarded")
        file = self._opened()
        file.flush()
        os.fsync(file.fileno())
        self._close()
        os.replace(self._temp, self._target)
        self._committed = True
        fsync_directory(self._target.parent)

    def _discard(self) -> None:
        self._discarded = True
        self._close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
        if self._committed:
            # The rename happened but the put still failed (a cancel during commit, a failed
            # directory fsync): the caller treats the blob as absent, so it must be.
            self._target.unlink(missing_ok=True)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ScratchFile(ThreadFile):
    """A private temp file in `directory` (a download for a reader that needs a path)."""

    def __init__(self, directory: Path | None, suffix: str) -> None:
        super().__init__()
        self._directory = directory
        self._suffix = suffix
        self.path: Path | None = None

    async def open(self) -> Path:
        def create() -> Path:
            fd, name = tempfile.mkstemp(
                prefix="wschats-blob-", suffix=self._suffix, dir=self._directory
            )
            self.path = Path(name)
            self.file = os.fdopen(fd, "wb")
            return self.path

        return await self._run(create)

    async def write(self, parts: list[bytes]) -> None:
        """Append `parts` in order (written by the thread as they are: no joining copy)."""
        await self._run(lambda: self._opened().writelines(parts))

    async def close(self) -> None:
        await self._run(self._close)

    async def remove(self) -> None:
        def close_and_unlink() -> None:
            self._close()
            if self.path is not None:
                self.path.unlink(missing_ok=True)

        await self._run(close_and_unlink)
