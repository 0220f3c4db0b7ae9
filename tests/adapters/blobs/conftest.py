"""Fixtures for the blob store tests: a real S3 wire server (moto) and both adapters.

moto runs in a child process: it keeps objects in memory, and the memory test must measure
this process (the adapter) only. The child exits when this session closes its stdin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from tests.adapters.blobs.support import (
    Blobs,
    admin_client,
    new_bucket_name,
    pending_uploads,
    s3_store,
    temp_files,
)
from wschats.adapters.blobs import LocalBlobStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


@pytest_asyncio.fixture(loop_scope="session")
async def s3_admin(s3_endpoint: str) -> AsyncIterator[S3Client]:
    async with admin_client(s3_endpoint) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session", params=["local", "s3"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Blobs]:
    """Each parametrized test runs against both adapters, each on fresh storage."""
    if request.param == "local":
        root = tmp_path / "blobs"
        local = LocalBlobStore(root)
        await local.start()

        async def local_leftovers() -> list[str]:
            return temp_files(root)

        yield Blobs("local", local, local_leftovers)
        await local.close()
        return

    endpoint: str = request.getfixturevalue("s3_endpoint")  # a sync fixture: safe to ask here
    bucket = new_bucket_name()
    # A prefix and a tiny listing page, so keys() and delete_prefix() go through both.
    remote = s3_store(endpoint, bucket, prefix="chats", list_page_size=2, temp_dir=tmp_path)
    async with admin_client(endpoint) as admin, remote:

        async def s3_leftovers() -> list[str]:
            return await pending_uploads(admin, bucket)

        yield Blobs("s3", remote, s3_leftovers)
