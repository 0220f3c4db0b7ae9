"""Fixtures for the blob store tests: a real S3 wire server (moto) and both adapters.

moto runs in a child process: it keeps objects in memory, and the memory test must measure
this process (the adapter) only. The child exits when this session closes its stdin.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
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

_MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """http://127.0.0.1:<port> of a moto S3 server on a free port."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-c", _MOTO_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    assert server.stdin is not None and server.stdout is not None
    try:
        port = server.stdout.readline().strip()  # EOF (so "") if the server died
        if not port.isdigit():
            pytest.fail(f"moto did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


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
