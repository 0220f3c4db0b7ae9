"""Every `BlobStore` behaviour, run against both adapters (local files and S3 on moto)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.adapters.blobs.support import (
    MIB,
    Blobs,
    all_keys,
    chunked,
    random_bytes,
    read_all,
)
from wschats.adapters.blobs import InvalidKeyError
from wschats.adapters.blobs.s3 import PART_SIZE
from wschats.domain.errors import NotFound
from wschats.ports import BlobStore

KEY = "files/3f1c9a52-8f9e-4a36-9d0e-2a7f4a1b9c01"


class Boom(Exception):
    """The upload source failing (a client connection dropping mid-body)."""


async def test_round_trip_of_a_multi_megabyte_stream_in_odd_chunks(blobs: Blobs) -> None:
    data = random_bytes(20 * MIB + 12345)

    stored = await blobs.store.put(KEY, chunked(data))

    assert stored == len(data)
    assert await blobs.store.size(KEY) == len(data)
    assert await read_all(blobs.store, KEY) == data
    assert await all_keys(blobs.store) == [KEY]
    assert await blobs.leftovers() == []


async def test_download_is_streamed_in_bounded_chunks(blobs: Blobs) -> None:
    data = random_bytes(3 * MIB + 17)
    await blobs.store.put(KEY, chunked(data))

    sizes = [len(chunk) async for chunk in blobs.store.get(KEY)]

    assert sum(sizes) == len(data)
    assert len(sizes) > 1
    assert max(sizes) <= MIB
    assert min(sizes[:-1]) >= 64 * 1024


async def test_empty_blob(blobs: Blobs) -> None:
    assert await blobs.store.put(KEY, chunked(b"")) == 0

    assert await blobs.store.size(KEY) == 0
    assert await read_all(blobs.store, KEY) == b""
    assert await read_all(blobs.store, KEY, 0, 0) == b""
    assert await read_all(blobs.store, KEY, 0, 5) == b""
    assert await read_all(blobs.store, KEY, 3, None) == b""


async def test_put_replaces_an_existing_blob(blobs: Blobs) -> None:
    await blobs.store.put(KEY, chunked(b"old content"))
    await blobs.store.put(KEY, chunked(b"new"))

    assert await read_all(blobs.store, KEY) == b"new"


SIZE = 3 * MIB + 17


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 100),  # the start
        (0, None),  # everything
        (1_000_000, 1_500_001),  # the middle, across read chunks
        (SIZE - 100, SIZE),  # the end
        (SIZE - 100, None),  # from the middle to the end
        (SIZE - 5, SIZE + 1000),  # past the end is clamped
        (500, 500),  # empty
        (SIZE, None),  # starting at the end: empty
        (SIZE + 10, SIZE + 20),  # starting past the end: empty
    ],
)
async def test_ranges(blobs: Blobs, start: int, end: int | None) -> None:
    data = random_bytes(SIZE)
    await blobs.store.put(KEY, chunked(data))

    assert await read_all(blobs.store, KEY, start, end) == data[start:end]


@pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 5)])
async def test_invalid_ranges_are_refused(blobs: Blobs, start: int, end: int | None) -> None:
    await blobs.store.put(KEY, chunked(b"0123456789abcdef"))

    with pytest.raises(ValueError):
        await read_all(blobs.store, KEY, start, end)


async def test_missing_blob(blobs: Blobs) -> None:
    with pytest.raises(NotFound):
        await read_all(blobs.store, KEY)
    with pytest.raises(NotFound):
        await read_all(blobs.store, KEY, 10, 20)
    with pytest.raises(NotFound):
        await read_all(blobs.store, KEY, 0, 0)
    with pytest.raises(NotFound):
        await blobs.store.copy(KEY, "files/copy")
    with pytest.raises(NotFound):
        async with blobs.store.local_path(KEY):
            pass
    assert await blobs.store.size(KEY) is None
    assert await all_keys(blobs.store) == []


async def _failing(data: bytes, blobs: Blobs, seen: list[list[str]]) -> AsyncIterator[bytes]:
    async for chunk in chunked(data, [MIB + 7]):
        yield chunk
    seen.append(await blobs.leftovers())
    raise Boom


@pytest.mark.parametrize("sent_before_failure", [0, 100_000, PART_SIZE + 4 * MIB])
async def test_failing_stream_leaves_nothing(blobs: Blobs, sent_before_failure: int) -> None:
    seen: list[list[str]] = []

    with pytest.raises(Boom):
        await blobs.store.put(KEY, _failing(random_bytes(sent_before_failure), blobs, seen))

    # Both stores write a blob smaller than their buffer in one go at its end: only a larger
    # one is under way (a temp file, a multipart upload) when its stream fails.
    if sent_before_failure > PART_SIZE:
        assert seen[0] != []
    else:
        assert seen[0] == []
    assert await blobs.leftovers() == []
    assert await blobs.store.size(KEY) is None
    assert await all_keys(blobs.store) == []


async def test_failed_overwrite_keeps_the_previous_blob(blobs: Blobs) -> None:
    await blobs.store.put(KEY, chunked(b"previous"))

    with pytest.raises(Boom):
        await blobs.store.put(KEY, _failing(random_bytes(PART_SIZE + MIB), blobs, []))

    assert await read_all(blobs.store, KEY) == b"previous"
    assert await blobs.leftovers() == []


async def test_cancelled_upload_leaves_nothing(blobs: Blobs) -> None:
    paused = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        async for chunk in chunked(random_bytes(PART_SIZE + 4 * MIB), [MIB]):
            yield chunk
        paused.set()
        await asyncio.Event().wait()  # a client that stops sending
        yield b""

    upload = asyncio.create_task(blobs.store.put(KEY, stalled()))
    async with asyncio.timeout(60):
        await paused.wait()
    assert await blobs.leftovers() != []  # under way
    assert await blobs.store.size(KEY) is None  # but not visible before it completes
    assert await all_keys(blobs.store) == []

    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload

    assert await blobs.leftovers() == []
    assert await blobs.store.size(KEY) is None
    assert await all_keys(blobs.store) == []


async def test_copy(blobs: Blobs) -> None:
    data = random_bytes(PART_SIZE + 3 * MIB)
    await blobs.store.put(KEY, chunked(data))
    await blobs.store.put("files/target", chunked(b"to be replaced"))

    await blobs.store.copy(KEY, "files/copy")
    await blobs.store.copy(KEY, "files/target")
    await blobs.store.copy("files/copy", "files/copy")  # onto itself: unchanged
    await blobs.store.delete(KEY)

    assert await read_all(blobs.store, "files/copy") == data
    assert await read_all(blobs.store, "files/target") == data
    with pytest.raises(NotFound):
        await blobs.store.copy(KEY, KEY)
    assert await all_keys(blobs.store) == ["files/copy", "files/target"]
    assert await blobs.leftovers() == []


async def test_delete_is_idempotent(blobs: Blobs) -> None:
    await blobs.store.put(KEY, chunked(b"bytes"))

    await blobs.store.delete(KEY)
    await blobs.store.delete(KEY)
    await blobs.store.delete("files/never-stored")
    await blobs.store.delete("previews/never/stored.png")

    assert await blobs.store.size(KEY) is None
    with pytest.raises(NotFound):
        await read_all(blobs.store, KEY)


LISTED = [
    "files/b",
    "files/a",
    "files/a-1",
    "files/a.png",
    "previews/a/256x256.jpeg",
    "previews/a/80x80.png",
    "previews/ab/x",
    "previews/a-b",
    "z",
]


async def _store_all(store: BlobStore, keys: list[str]) -> None:
    for key in keys:
        await store.put(key, chunked(key.encode()))


async def test_keys_lists_in_byte_order(blobs: Blobs) -> None:
    await _store_all(blobs.store, LISTED)

    assert await all_keys(blobs.store) == sorted(LISTED)
    assert await all_keys(blobs.store, "files/") == [
        "files/a",
        "files/a-1",
        "files/a.png",
        "files/b",
    ]
    assert await all_keys(blobs.store, "files/a") == ["files/a", "files/a-1", "files/a.png"]
    # A prefix is a string prefix, not a folder: "previews/a" covers "previews/ab/...".
    assert await all_keys(blobs.store, "previews/a") == [
        "previews/a-b",
        "previews/a/256x256.jpeg",
        "previews/a/80x80.png",
        "previews/ab/x",
    ]
    assert await all_keys(blobs.store, "previews/a/") == [
        "previews/a/256x256.jpeg",
        "previews/a/80x80.png",
    ]
    assert await all_keys(blobs.store, "nothing/") == []


async def test_existing_answers_for_a_page_of_keys(blobs: Blobs) -> None:
    """Present and absent keys, neighbours not asked about, over several listing pages (the
    S3 fixture lists 2 keys a page), under both prefixes at once."""
    ids = [uuid.UUID(int=i) for i in range(1, 13)]
    present = [f"files/{file_id}" for file_id in ids[::2]]
    await _store_all(blobs.store, [*present, *LISTED])
    absent = [f"files/{file_id}" for file_id in ids[1::2]]

    asked = [*absent, *present, "previews/a/80x80.png", "previews/a", "files/zz"]
    assert await blobs.store.existing(asked) == {*present, "previews/a/80x80.png"}
    assert await blobs.store.existing(present[:1]) == set(present[:1])
    assert await blobs.store.existing([present[0], present[-1]]) == {present[0], present[-1]}
    assert await blobs.store.existing(absent) == set()
    assert await blobs.store.existing(sorted(LISTED, reverse=True)) == set(LISTED)
    assert await blobs.store.existing([]) == set()


async def test_delete_prefix(blobs: Blobs) -> None:
    await _store_all(blobs.store, LISTED)

    await blobs.store.delete_prefix("previews/a/")
    assert await all_keys(blobs.store, "previews/") == ["previews/a-b", "previews/ab/x"]

    await blobs.store.delete_prefix("files/a")
    assert await all_keys(blobs.store, "files/") == ["files/b"]

    await blobs.store.delete_prefix("previews/")
    await blobs.store.delete_prefix("previews/")  # nothing left: no error
    assert await all_keys(blobs.store) == ["files/b", "z"]


async def test_delete_prefix_refuses_to_delete_everything(blobs: Blobs) -> None:
    await _store_all(blobs.store, ["files/a"])

    with pytest.raises(InvalidKeyError):
        await blobs.store.delete_prefix("")

    assert await all_keys(blobs.store) == ["files/a"]


async def test_local_path_has_the_content(blobs: Blobs) -> None:
    data = random_bytes(2 * MIB + 3)
    await blobs.store.put("previews/f/original.png", chunked(data))

    async with blobs.store.local_path("previews/f/original.png") as path:
        assert path.read_bytes() == data
        assert path.suffix == ".png"  # decoders that look at the name see the real one

    if blobs.kind == "local":
        assert path.is_file()  # the stored file itself, not a copy
    else:
        assert not path.exists()  # the download was removed
    assert await read_all(blobs.store, "previews/f/original.png") == data


async def test_local_path_lets_the_readers_own_errors_through(blobs: Blobs) -> None:
    await blobs.store.put("files/doc.pdf", chunked(b"%PDF-1.7 truncated"))

    with pytest.raises(OSError, match="cannot decode"):
        async with blobs.store.local_path("files/doc.pdf") as path:
            raise OSError("cannot decode")

    assert path.exists() is (blobs.kind == "local")  # a download is removed all the same


async def test_health(blobs: Blobs) -> None:
    assert await blobs.store.health() is True


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "files/../../outside",
    "files/..",
    "files/./x",
    "files//x",
    "files/",
    ".tmp-x",
    "files/.hidden",
    "files\\..\\x",
    "files/x y",
    "files/x\x00",
    "files/\u00e9",
    "files/" + "x" * 1025,
]

Operation = Callable[[BlobStore, str], Awaitable[object]]


async def _enter_local_path(store: BlobStore, key: str) -> None:
    async with store.local_path(key):
        pass


OPERATIONS: dict[str, Operation] = {
    "put": lambda store, key: store.put(key, chunked(b"x")),
    "get": lambda store, key: read_all(store, key),
    "size": lambda store, key: store.size(key),
    "delete": lambda store, key: store.delete(key),
    "copy from": lambda store, key: store.copy(key, "files/ok"),
    "copy to": lambda store, key: store.copy("files/ok", key),
    "local_path": _enter_local_path,
    "existing": lambda store, key: store.existing(["files/ok", key]),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("key", BAD_KEYS)
async def test_unsafe_keys_are_rejected(blobs: Blobs, key: str, operation: str) -> None:
    await blobs.store.put("files/ok", chunked(b"ok"))

    with pytest.raises(InvalidKeyError):
        await OPERATIONS[operation](blobs.store, key)

    assert await all_keys(blobs.store) == ["files/ok"]
    assert await read_all(blobs.store, "files/ok") == b"ok"


@pytest.mark.parametrize("prefix", ["/", "/files", "../", "files/../", "files/.", "a//b"])
async def test_unsafe_prefixes_are_rejected(blobs: Blobs, prefix: str) -> None:
    await blobs.store.put("files/ok", chunked(b"ok"))

    with pytest.raises(InvalidKeyError):
        await all_keys(blobs.store, prefix)
    with pytest.raises(InvalidKeyError):
        await blobs.store.delete_prefix(prefix)

    assert await all_keys(blobs.store) == ["files/ok"]
