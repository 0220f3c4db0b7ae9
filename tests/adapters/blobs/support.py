"""Helpers for the blob store tests: byte streams, S3 access from outside, leftovers."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import uuid4

from aiobotocore.session import get_session

from wschats.adapters.blobs import S3BlobStore
from wschats.adapters.blobs.files import TEMP_PREFIX
from wschats.ports import BlobStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

REGION = "us-east-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"

_SESSION = get_session()  # one for all clients: each new session reloads the S3 model

MIB = 1024 * 1024
# Deliberately uneven, so chunk boundaries never line up with the adapters' buffers.
ODD_SIZES = (1, 7919, 65537, 1_048_583, 3, 2_500_009)


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, sizes: Sequence[int] = ODD_SIZES) -> AsyncIterator[bytes]:
    offset = index = 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        index += 1


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, start, end)])


async def all_keys(store: BlobStore, prefix: str = "") -> list[str]:
    return [key async for key in store.keys(prefix)]


def admin_client(endpoint: str) -> AbstractAsyncContextManager[S3Client]:
    """A plain client, to look at the bucket from outside the adapter."""
    return _SESSION.create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


def new_bucket_name() -> str:
    return f"blobs-{uuid4().hex[:20]}"


def s3_store(endpoint: str, bucket: str, **options: Any) -> S3BlobStore:
    settings: dict[str, Any] = {"create_bucket": True, "connect_timeout_s": 2.0}
    settings.update(options)
    return S3BlobStore(bucket, endpoint, ACCESS_KEY, SECRET_KEY, REGION, **settings)


async def pending_uploads(client: S3Client, bucket: str) -> list[str]:
    listing = await client.list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in listing.get("Uploads", [])]


def temp_files(root: Path) -> list[str]:
    return sorted(
        str(Path(directory, name).relative_to(root))
        for directory, _, names in os.walk(root)
        for name in names
        if name.startswith(TEMP_PREFIX)
    )


@dataclass
class Blobs:
    """One adapter under test and a way to see what an unfinished upload leaves behind."""

    kind: Literal["local", "s3"]
    store: BlobStore  # so mypy checks that both adapters implement the port
    # Temp files (local) or pending multipart uploads (S3), seen from outside the adapter.
    leftovers: Callable[[], Awaitable[list[str]]]
