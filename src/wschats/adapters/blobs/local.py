"""storage_service on the local file system: the embedded default (docs/architecture.md#ports).

Every blocking call runs in a worker thread, so a slow disk never stalls the event loop.
Writes go to a `.tmp-<random>` file beside the target, are fsynced and renamed into place, so
a crash leaves either the old state or the new one, plus at most a temp file that
`sweep_temp_files` (called by `start`) removes.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, asynccontextmanager, contextmanager, suppress
from pathlib import Path
from types import TracebackType

from wschats.adapters.blobs.files import TEMP_PREFIX, PendingFile, Reader
from wschats.adapters.blobs.keys import (
    InvalidKeyError,
    check_key,
    check_prefix,
    check_range,
    is_key_segment,
)
from wschats.domain.errors import Dependency, DependencyFailed, NotFound
from wschats.ports import DirectBody, DirectSource

READ_CHUNK = 256 * 1024
# Incoming chunks are gathered up to this size so a stream of small chunks does not cost one
# thread hop per chunk.
WRITE_BUFFER = 1024 * 1024
# Uploads taken straight from their connection at once, each holding a thread for its whole
# body; more wait for none: they take the usual path.
DIRECT_UPLOADS = 4
HEALTH_TIMEOUT_S = 5.0
DEFAULT_TEMP_MAX_AGE_S = 3600.0

_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


@contextmanager
def _storage_errors(action: str, key: str) -> Iterator[None]:
    """File-system failures become `DependencyFailed`; the path stays out of the message."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DependencyFailed(Dependency.STORAGE, f"could not {action} {key}: {reason}") from error


def _scan(directory: Path) -> list[tuple[str, bool]]:
    """(name, is_directory) of the blob entries of `directory`, in S3 listing order.

    A directory sorts as `name/`, so a depth-first walk yields keys in the same byte order as
    an S3 listing. Temp files and anything that is not a valid key segment are left out.
    """
    try:
        with os.scandir(directory) as entries:
            found = [
                (entry.name, entry.is_dir(follow_symlinks=False))
                for entry in entries
                if is_key_segment(entry.name)
                and (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False))
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda item: item[0] + "/" if item[1] else item[0])


def _remove_emptied_directories(root: Path, prefix: str) -> None:
    """Remove the directories that only held keys under `prefix`, if now empty (a directory
    that still holds something, such as an upload in flight, stays)."""
    directory, _, name_start = prefix.rpartition("/")
    parent = root / directory
    if not name_start:
        tops = [parent]  # "a/b/" covers the directory a/b itself
    else:
        try:
            with os.scandir(parent) as entries:
                tops = [
                    Path(entry.path)
                    for entry in entries
                    if entry.name.startswith(name_start) and entry.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
    for top in tops:
        for current, _, _ in os.walk(top, topdown=False):
            with suppress(OSError):  # not empty
                os.rmdir(current)


def _sweep(root: Path, older_than_s: float) -> int:
    cutoff = time.time() - older_than_s
    removed = 0
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = Path(directory, name)
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # finished or removed meanwhile
    return removed


def _probe_writable(root: Path) -> bool:
    if not root.is_dir():
        return False
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX + "health-", dir=root)
    os.close(fd)
    os.unlink(name)
    return True


class LocalBlobStore:
    """`BlobStore` keeping blob `a/b/c` in the file `<root>/a/b/c`.

    Lifecycle: `await start()` once at start-up (creates the root, sweeps stale temp files),
    `await close()` at shutdown; or `async with LocalBlobStore(root) as store:`.
    """

    def __init__(self, root: Path, *, temp_max_age_s: float = DEFAULT_TEMP_MAX_AGE_S) -> None:
        # Resolved once so keys are checked against the real root even if it is a symlink.
        self._root = root.resolve()
        self._temp_max_age_s = temp_max_age_s
        self._direct_free = DIRECT_UPLOADS
        self._direct_threads: ThreadPoolExecutor | None = None

    @property
    def root(self) -> Path:
        return self._root

    async def start(self) -> None:
        """Create the root if needed and remove temp files older than `temp_max_age_s`
        (left by a crash; a live upload's temp file is younger, it is written continuously)."""
        with _storage_errors("create", "the storage root"):
            await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)
        await self.sweep_temp_files(self._temp_max_age_s)

    async def close(self) -> None:
        """Stop the direct upload threads (idle by now: the server has answered)."""
        threads, self._direct_threads = self._direct_threads, None
        if threads is not None:
            threads.shutdown(wait=False)

    async def __aenter__(self) -> LocalBlobStore:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _path(self, key: str) -> Path:
        """The file of `key` (see `_locate`)."""
        return self._locate(key)[0]

    def _locate(self, key: str) -> tuple[Path, os.stat_result | None]:
        """The file of `key`, refused if a symlink under the root is on its way, and its
        status (None if it does not exist).

        Keys have no "." or ".." segments and the root is resolved already, so only a
        symlink among the key's own segments could lead out. The store creates none: any is
        refused. Checking those few (an lstat each) costs a quarter of resolving the whole
        path, and this runs on the event loop for every preview asked (session 5: 14 against
        50 us a call). The last lstat is the file's own status: `size` and `local_path`
        answer from it instead of a stat in a thread, whose hop cost more than the stat."""
        check_key(key)
        current = str(self._root)
        status: os.stat_result | None = None
        for segment in key.split("/"):
            current = f"{current}/{segment}"
            try:
                status = os.lstat(current)
            except (FileNotFoundError, NotADirectoryError):
                return self._root / key, None  # the rest does not exist (yet)
            if stat.S_ISLNK(status.st_mode):
                raise InvalidKeyError(f"blob key {key!r} passes a symlink in the storage")
        return self._root / key, status

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        pending = PendingFile(self._path(key))  # a bad key fails before a body is claimed
        if self._direct_free and isinstance(chunks, DirectBody):
            source = chunks.direct_source()
            if source is not None:
                self._direct_free -= 1
                try:
                    return await self._put_direct(key, pending, source)
                finally:
                    self._direct_free += 1
        # One write runs in its thread while the next buffer is gathered from the network.
        writing: asyncio.Future[None] | None = None
        try:
            size = 0
            parts: list[bytes] = []
            gathered = 0
            async for chunk in chunks:
                size += len(chunk)
                parts.append(chunk)
                gathered += len(chunk)
                if gathered >= WRITE_BUFFER:
                    with _storage_errors("store", key):
                        if writing is not None:
                            await writing
                        writing = asyncio.ensure_future(pending.write(parts))
                    parts, gathered = [], 0
            with _storage_errors("store", key):
                if writing is not None:
                    await writing
                    writing = None
                await pending.commit(parts)
        except BaseException:
            # Also on CancelledError (a client that went away): nothing may stay behind. The
            # write in flight is waited for (and its failure dropped: this one wins).
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            await pending.discard()
            raise
        return size

    async def _put_direct(self, key: str, pending: PendingFile, source: DirectSource) -> int:
        """The body moved socket -> file by the kernel in one of our threads."""
        if self._direct_threads is None:
            self._direct_threads = ThreadPoolExecutor(
                DIRECT_UPLOADS, thread_name_prefix="wschats-upload"
            )
        filling = asyncio.ensure_future(pending.fill_and_commit(source, self._direct_threads))
        try:
            with _storage_errors("store", key):
                return await asyncio.shield(filling)
        except BaseException:
            # Also on CancelledError: the thread stops waiting for the client, then nothing
            # may stay behind.
            source.stop()
            await asyncio.gather(filling, return_exceptions=True)
            await pending.discard()
            raise
        finally:
            source.release()

    async def get(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        check_range(start, end)
        reader = Reader(self._path(key))
        try:
            with _storage_errors("read", key):
                try:
                    await reader.open(start)
                except _MISSING as error:
                    raise NotFound(f"blob {key} not found") from error
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                with _storage_errors("read", key):
                    chunk = await reader.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await reader.close()

    async def size(self, key: str) -> int | None:
        with _storage_errors("inspect", key):
            _, status = self._locate(key)
        if status is None or not stat.S_ISREG(status.st_mode):
            return None
        return status.st_size

    async def existing(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that are regular files: an lstat of each key's segments (`_locate`,
        so a symlink on the way is refused as `size` refuses it), in one thread per call."""
        if not keys:
            return set()
        with _storage_errors("inspect", "a page of blobs"):
            return await asyncio.to_thread(self._existing, keys)

    def _existing(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for key in keys:
            _, status = self._locate(key)
            if status is not None and stat.S_ISREG(status.st_mode):
                found.add(key)
        return found

    async def delete(self, key: str) -> None:
        path = self._path(key)
        # A missing blob is no error: delete is idempotent.
        with _storage_errors("delete", key), suppress(*_MISSING):
            await asyncio.to_thread(path.unlink)

    async def delete_prefix(self, prefix: str) -> None:
        if not check_prefix(prefix):
            raise InvalidKeyError("refusing to delete every blob (empty prefix)")
        async for key in self.keys(prefix):
            await self.delete(key)
        await asyncio.to_thread(_remove_emptied_directories, self._root, prefix)

    async def copy(self, source: str, target: str) -> None:
        # Through put, so a copy is as atomic and as clean on failure as an upload.
        self._path(source)
        async with aclosing(self.get(source)) as chunks:
            await self.put(target, chunks)

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        directory, _, name_start = check_prefix(prefix).rpartition("/")
        if directory:
            self._path(directory)
        async for key in self._walk(directory, name_start):
            yield key

    async def _walk(self, directory: str, name_start: str) -> AsyncIterator[str]:
        path = self._root / directory if directory else self._root
        with _storage_errors("list", directory or "the storage root"):
            entries = await asyncio.to_thread(_scan, path)
        for name, is_directory in entries:
            if not name.startswith(name_start):
                continue
            key = f"{directory}/{name}" if directory else name
            if is_directory:
                async for inner in self._walk(key, ""):
                    yield inner
            else:
                yield key

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        """The stored file itself (no copy); read it only, and only inside the context."""
        with _storage_errors("inspect", key):
            path, status = self._locate(key)
        if status is None or not stat.S_ISREG(status.st_mode):
            raise NotFound(f"blob {key} not found")
        yield path

    async def health(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return await asyncio.to_thread(_probe_writable, self._root)
        except (OSError, TimeoutError):
            return False

    async def sweep_temp_files(self, older_than_s: float) -> int:
        """Remove temp files older than `older_than_s` (crash leftovers); the count removed."""
        with _storage_errors("sweep", "the storage root"):
            return await asyncio.to_thread(_sweep, self._root, older_than_s)
