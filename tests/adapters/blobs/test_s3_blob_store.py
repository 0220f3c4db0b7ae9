"""What only the S3 adapter has: the bucket, the key prefix, the endpoint and its failures."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.adapters.blobs.support import (
    MIB,
    all_keys,
    chunked,
    new_bucket_name,
    pending_uploads,
    random_bytes,
    read_all,
    s3_store,
)
from wschats.adapters.blobs import S3BlobStore
from wschats.domain.errors import Dependency, DependencyFailed

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

# Bounds the failure tests as a whole, so a regression shows as a failure, never a hang.
GUARD_S = 60


async def _bucket_keys(admin: S3Client, bucket: str) -> list[str]:
    listing = await admin.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


async def test_start_creates_the_bucket_when_asked(s3_endpoint: str, s3_admin: S3Client) -> None:
    bucket = new_bucket_name()

    async with s3_store(s3_endpoint, bucket, create_bucket=True) as store:
        assert await store.health() is True
    async with s3_store(s3_endpoint, bucket, create_bucket=True) as again:  # it exists now
        assert await again.health() is True

    await s3_admin.head_bucket(Bucket=bucket)


async def test_a_missing_bucket_is_a_storage_failure_not_a_missing_blob(s3_endpoint: str) -> None:
    async with s3_store(s3_endpoint, new_bucket_name(), create_bucket=False) as store:
        assert await store.health() is False
        with pytest.raises(DependencyFailed):
            await read_all(store, "files/x")
        with pytest.raises(DependencyFailed):
            await store.put("files/x", chunked(b"x"))


async def test_the_prefix_is_a_folder_of_the_bucket(s3_endpoint: str, s3_admin: S3Client) -> None:
    bucket = new_bucket_name()
    async with (
        s3_store(s3_endpoint, bucket, prefix="chats") as chats,
        s3_store(s3_endpoint, bucket, prefix="/other/") as other,
        s3_store(s3_endpoint, bucket) as whole,
    ):
        await chats.put("files/a", chunked(b"chats"))
        await other.put("files/a", chunked(b"other"))

        assert await _bucket_keys(s3_admin, bucket) == ["chats/files/a", "other/files/a"]
        assert await all_keys(chats) == ["files/a"]
        assert await read_all(chats, "files/a") == b"chats"
        assert await read_all(other, "files/a") == b"other"
        assert await all_keys(whole) == ["chats/files/a", "other/files/a"]

        await s3_admin.put_object(Bucket=bucket, Key="chats/files/not a key", Body=b"by hand")
        assert await all_keys(chats) == ["files/a"]  # only what could be a blob

        await chats.delete_prefix("files/")
        assert await _bucket_keys(s3_admin, bucket) == ["other/files/a"]


async def test_existing_lists_the_range_of_the_keys_not_each_key(
    s3_endpoint: str, s3_admin: S3Client
) -> None:
    """A page of ids in order costs a listing page per `list_page_size` keys, keys far apart
    a listing each at most; never a HEAD per key."""
    bucket = new_bucket_name()
    keys = [f"files/{uuid.UUID(int=i)}" for i in range(1, 21)]
    async with s3_store(s3_endpoint, bucket, prefix="chats", list_page_size=5) as store:
        for key in keys:
            await store.put(key, chunked(b"x"))
        await s3_admin.put_object(Bucket=bucket, Key=f"other/{keys[0]}", Body=b"not ours")
        calls: list[str] = []

        def record(event_name: str, **_: object) -> None:
            calls.append(event_name.rsplit(".", 1)[-1])

        store._started().meta.events.register("before-call.s3", record)
        missing = f"files/{uuid.UUID(int=1000)}"  # sorts after all of them

        assert await store.existing([*keys[:10], missing]) == set(keys[:10])
        assert calls == ["ListObjectsV2"] * 3  # 5 keys, 5 keys, then the missing one's range
        calls.clear()
        # Past the first five, straight to the last key's neighbours, which end the listing.
        assert await store.existing([keys[19], keys[0], missing]) == {keys[0], keys[19]}
        assert calls == ["ListObjectsV2"] * 2
        calls.clear()
        assert await store.existing(keys) == set(keys)
        assert calls == ["ListObjectsV2"] * 4
        calls.clear()
        assert await store.existing([f"files/{uuid.UUID(int=0)}"]) == set()
        assert calls == ["ListObjectsV2"]


async def test_a_small_blob_is_one_put_and_a_large_one_a_multipart_upload(
    s3_endpoint: str, s3_admin: S3Client
) -> None:
    bucket = new_bucket_name()
    async with s3_store(s3_endpoint, bucket) as store:
        await store.put("files/small", chunked(random_bytes(MIB)))
        await store.put("files/large", chunked(random_bytes(20 * MIB)))

    small = await s3_admin.head_object(Bucket=bucket, Key="files/small")
    large = await s3_admin.head_object(Bucket=bucket, Key="files/large")
    # S3 gives a multipart object the ETag "<md5 of the part md5s>-<number of parts>".
    assert "-" not in small["ETag"]
    assert large["ETag"].strip('"').endswith("-3")


async def test_sweep_aborts_stale_multipart_uploads_under_the_prefix(
    s3_endpoint: str, s3_admin: S3Client
) -> None:
    bucket = new_bucket_name()
    async with s3_store(s3_endpoint, bucket, prefix="chats") as store:
        await s3_admin.create_multipart_upload(Bucket=bucket, Key="chats/files/crashed")
        await s3_admin.create_multipart_upload(Bucket=bucket, Key="elsewhere/files/x")

        # moto reports every upload as started in 2010, so both look stale; only the one
        # under the store's prefix is its business.
        assert await store.sweep_temp_files(older_than_s=3600) == 1
        assert await pending_uploads(s3_admin, bucket) == ["elsewhere/files/x"]
        assert await store.sweep_temp_files(older_than_s=3600) == 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


def _operations(store: S3BlobStore) -> dict[str, Callable[[], Awaitable[object]]]:
    async def enter_local_path() -> None:
        async with store.local_path("files/x"):
            pass

    async def big_stream() -> AsyncIterator[bytes]:
        async for chunk in chunked(random_bytes(9 * MIB), [MIB]):
            yield chunk

    return {
        "put small": lambda: store.put("files/x", chunked(b"x")),
        "put multipart": lambda: store.put("files/x", big_stream()),
        "get": lambda: read_all(store, "files/x"),
        "get range": lambda: read_all(store, "files/x", 5, 10),
        "size": lambda: store.size("files/x"),
        "delete": lambda: store.delete("files/x"),
        "delete_prefix": lambda: store.delete_prefix("files/"),
        "copy": lambda: store.copy("files/x", "files/y"),
        "keys": lambda: all_keys(store),
        "local_path": enter_local_path,
        "sweep": lambda: store.sweep_temp_files(0),
    }


async def _assert_every_call_fails_as_storage(store: S3BlobStore, tmp_path: Path) -> None:
    async with asyncio.timeout(GUARD_S):
        for name, call in _operations(store).items():
            with pytest.raises(DependencyFailed) as failure:
                await call()
            assert failure.value.dependency is Dependency.STORAGE, name
        assert await store.health() is False
    assert os.listdir(tmp_path) == []  # no download left behind


async def test_a_dead_endpoint_fails_promptly_as_storage(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = s3_store(endpoint, "bucket", create_bucket=False, temp_dir=tmp_path, max_attempts=2)
    async with store:
        await _assert_every_call_fails_as_storage(store, tmp_path)

    with pytest.raises(DependencyFailed):
        async with asyncio.timeout(GUARD_S):
            await s3_store(endpoint, "bucket", create_bucket=True).start()


async def test_an_endpoint_that_never_answers_times_out_as_storage(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_stay_silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = s3_store(
        f"http://127.0.0.1:{port}",
        "bucket",
        create_bucket=False,
        temp_dir=tmp_path,
        connect_timeout_s=0.5,
        read_timeout_s=0.5,
        max_attempts=1,
        # An upload waits for "100 Continue" with no socket timeout: this deadline ends it.
        call_timeout_s=2.0,
        health_timeout_s=1.0,
    )
    try:
        async with store:
            await _assert_every_call_fails_as_storage(store, tmp_path)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_calls_before_start_are_a_programming_error(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, new_bucket_name())

    assert await store.health() is False
    with pytest.raises(RuntimeError):
        await store.size("files/x")
