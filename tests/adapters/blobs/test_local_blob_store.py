"""What only the local file adapter has: real paths, temp files, directories, the root."""

from __future__ import annotations

import os
import resource
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.adapters.blobs.support import all_keys, chunked, read_all, temp_files
from wschats.adapters.blobs import InvalidKeyError, LocalBlobStore
from wschats.domain.errors import Dependency, DependencyFailed, NotFound

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_blobs_are_files_under_the_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "root")
    await store.start()

    await store.put("previews/p1/80x80.png", chunked(b"png bytes"))

    assert (tmp_path / "root" / "previews" / "p1" / "80x80.png").read_bytes() == b"png bytes"
    async with store.local_path("previews/p1/80x80.png") as path:
        assert path == tmp_path / "root" / "previews" / "p1" / "80x80.png"


async def test_a_symlink_cannot_lead_outside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "files").symlink_to(outside)
    store = LocalBlobStore(root)

    with pytest.raises(InvalidKeyError):
        await store.put("files/x", chunked(b"x"))
    with pytest.raises(InvalidKeyError):
        await read_all(store, "files/secret")
    with pytest.raises(InvalidKeyError):
        await store.delete("files/secret")
    # Deeper in a key too (only the key's own segments are checked, each one).
    (root / "previews" / "p1").mkdir(parents=True)
    (root / "previews" / "p1" / "80x80").symlink_to(outside / "secret")
    with pytest.raises(InvalidKeyError):
        await read_all(store, "previews/p1/80x80")
    with pytest.raises(InvalidKeyError):
        await store.size("previews/p1/80x80")

    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


async def test_existing_refuses_a_key_under_a_symlink(tmp_path: Path) -> None:
    """As `size` does: the whole page is refused, never answered from outside the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store = LocalBlobStore(tmp_path / "root")
    await store.start()
    await store.put("files/ok", chunked(b"ok"))
    (store.root / "previews").symlink_to(outside)
    (store.root / "files" / "link").symlink_to(outside / "secret")

    assert await store.existing(["files/ok", "files/missing"]) == {"files/ok"}
    for key in ("previews/secret", "files/link"):
        with pytest.raises(InvalidKeyError):
            await store.existing(["files/ok", key])


async def test_only_a_regular_file_is_a_blob(tmp_path: Path) -> None:
    """size and local_path answer from the key's own lstat: a directory, or a path through
    a file, is no blob."""
    store = LocalBlobStore(tmp_path)
    await store.put("previews/p1/80x80.png", chunked(b"png"))

    for not_a_blob in ("previews/p1", "previews/p1/80x80.png/more", "previews/p2/80x80.png"):
        assert await store.size(not_a_blob) is None
        with pytest.raises(NotFound):
            async with store.local_path(not_a_blob):
                pass
    assert await store.size("previews/p1/80x80.png") == 3
    assert await store.existing(["previews/p1", "previews/p1/80x80.png/more"]) == set()


async def test_start_removes_stale_temp_files_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "files").mkdir(parents=True)
    stale = root / "files" / ".tmp-crashed"
    stale.write_bytes(b"half an upload")
    _age(stale, 2 * HOUR)
    fresh = root / "files" / ".tmp-in-flight"
    fresh.write_bytes(b"an upload of another process")
    (root / "files" / "kept").write_bytes(b"a blob")
    _age(root / "files" / "kept", 2 * HOUR)

    await LocalBlobStore(root, temp_max_age_s=HOUR).start()

    assert temp_files(root) == ["files/.tmp-in-flight"]
    assert (root / "files" / "kept").read_bytes() == b"a blob"


async def test_sweep_temp_files_counts_what_it_removed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for name in ("a", "b"):
        leftover = tmp_path / f".tmp-{name}"
        leftover.write_bytes(b"")
        _age(leftover, 10.0)

    assert await store.sweep_temp_files(older_than_s=5.0) == 2
    assert await store.sweep_temp_files(older_than_s=5.0) == 0
    assert temp_files(tmp_path) == []


async def test_listing_shows_blobs_only(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("files/a", chunked(b"a"))
    (tmp_path / "files" / ".tmp-upload").write_bytes(b"in flight")
    (tmp_path / "files" / "not a key").write_bytes(b"put there by hand")

    assert await all_keys(store) == ["files/a"]


async def test_delete_prefix_removes_the_emptied_directories(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("previews/p1/80x80.png", chunked(b"1"))
    await store.put("previews/p1/big/256x256.png", chunked(b"2"))
    await store.put("previews/p2/80x80.png", chunked(b"3"))

    await store.delete_prefix("previews/p1/")

    assert not (tmp_path / "previews" / "p1").exists()
    assert (tmp_path / "previews" / "p2" / "80x80.png").is_file()
    await store.put("previews/p1/80x80.png", chunked(b"again"))  # the directory comes back
    assert await read_all(store, "previews/p1/80x80.png") == b"again"


async def test_a_storage_failure_is_a_dependency_failure_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("files/x", chunked(b"a file where a directory would be needed"))

    with pytest.raises(DependencyFailed) as failure:
        await store.put("files/x/y", chunked(b"y"))

    assert failure.value.dependency is Dependency.STORAGE
    assert str(tmp_path) not in failure.value.message  # no server path in a client message
    assert temp_files(tmp_path) == []
    assert await all_keys(store) == ["files/x"]


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past `limit` bytes fail with EFBIG in this process, as on a full disk."""
    previous_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous_limit)
        signal.signal(signal.SIGXFSZ, previous_handler)


async def test_a_write_failing_while_the_next_is_gathered_leaves_nothing(
    tmp_path: Path,
) -> None:
    # Writes run in a thread while the stream goes on: the failure of one in flight must
    # still end the put with a storage failure and no temp file.
    store = LocalBlobStore(tmp_path)
    await store.start()
    data = os.urandom(8 * 1024 * 1024)

    with file_size_limit(3 * 1024 * 1024), pytest.raises(DependencyFailed) as failure:
        await store.put("files/big", chunked(data, [64 * 1024]))

    assert failure.value.dependency is Dependency.STORAGE
    assert temp_files(tmp_path) == []
    assert await all_keys(store) == []
    await store.put("files/big", chunked(data, [64 * 1024]))  # the limit gone, it works
    assert await read_all(store, "files/big") == data


async def test_health_is_false_without_a_usable_root(tmp_path: Path) -> None:
    missing = LocalBlobStore(tmp_path / "missing")
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    not_a_directory = LocalBlobStore(a_file)

    assert await missing.health() is False
    assert await not_a_directory.health() is False
    with pytest.raises(DependencyFailed):
        await not_a_directory.put("files/x", chunked(b"x"))

    await missing.start()  # creates the root
    assert await missing.health() is True
    assert temp_files(tmp_path) == []  # the health probe cleans up after itself
