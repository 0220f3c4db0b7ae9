"""Helpers for the file tests: storage seen from outside the server, real images, uploads."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from uuid import UUID

import httpx
from aiobotocore.session import get_session
from PIL import Image

from tests.conftest import Api, User
from wschats.config import Settings
from wschats.domain.escapes import encode_text

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
S3_REGION = "us-east-1"

_SESSION = get_session()


@dataclass
class Stored:
    """What the storage holds, read without the server's adapter: the files under
    `<data_dir>/files`, or the objects of the bucket."""

    root: Path | None
    client: S3Client | None
    bucket: str | None

    async def keys(self) -> list[str]:
        if self.root is not None:
            return sorted(
                str(Path(directory, name).relative_to(self.root))
                for directory, _, names in os.walk(self.root)
                for name in names
            )
        assert self.client is not None and self.bucket is not None
        found: list[str] = []
        token: str | None = None
        while True:
            if token is None:
                page = await self.client.list_objects_v2(Bucket=self.bucket)
            else:
                page = await self.client.list_objects_v2(
                    Bucket=self.bucket, ContinuationToken=token
                )
            found += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return sorted(found)

    async def read(self, key: str) -> bytes | None:
        if self.root is not None:
            path = self.root / key
            return path.read_bytes() if path.is_file() else None
        assert self.client is not None and self.bucket is not None
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        async with response["Body"] as body:
            return bytes(await body.read())

    async def write(self, key: str, data: bytes) -> None:
        """Plant bytes the server did not write (orphans, for the storage check)."""
        if self.root is not None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        assert self.client is not None and self.bucket is not None
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def file(self, file_id: UUID | str) -> bytes | None:
        return await self.read(f"files/{file_id}")

    async def clear(self) -> None:
        if self.root is not None:
            for key in await self.keys():
                (self.root / key).unlink(missing_ok=True)
            return
        assert self.client is not None and self.bucket is not None
        for key in await self.keys():
            await self.client.delete_object(Bucket=self.bucket, Key=key)


@asynccontextmanager
async def stored_view(settings: Settings) -> AsyncIterator[Stored]:
    if not settings.storage_url:
        yield Stored(root=settings.data_dir / "files", client=None, bucket=None)
        return
    bucket = urlparse(settings.storage_url).netloc
    async with _SESSION.create_client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name=S3_REGION,
    ) as client:
        yield Stored(root=None, client=client, bucket=bucket)


def server_env_for(settings: Settings) -> dict[str, str]:
    """The environment of a `wschats serve` on the same database and storage as `settings`."""
    env = {
        "WSC_DATA_DIR": str(settings.data_dir),
        "WSC_DATABASE_URL": settings.resolved_database_url(),
        "WSC_MAX_ATTACHMENT_SIZE_MB": str(settings.max_attachment_size_mb),
        "WSC_MAX_ROOM_IMAGE_SIZE_IN_KB": str(settings.max_room_image_size_in_kb),
        "WSC_MAX_USER_IMAGE_SIZE_IN_KB": str(settings.max_user_image_size_in_kb),
    }
    if settings.storage_url:
        env |= {
            "WSC_STORAGE_URL": settings.storage_url,
            "WSC_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
            "WSC_S3_ACCESS_KEY": settings.s3_access_key or "",
            "WSC_S3_SECRET_KEY": settings.s3_secret_key or "",
            "WSC_S3_CREATE_BUCKET": "true",
        }
    return env


# ------------------------------------------------------------------------ images


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def decoded(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format, image.size


# ------------------------------------------------------------------------ uploads


def upload_headers(
    name: str = "photo.png",
    mime_type: str = "image/png",
    *,
    length: int | None = None,
    encode: bool = True,
    **extra: str,
) -> dict[str, str]:
    """Headers as the web client sends them: the name `\\uXXXX`-escaped, no Content-Type."""
    headers = {"fileName": encode_text(name) if encode else name, "mimeType": mime_type}
    if length is not None:
        headers["Content-Length"] = str(length)
    headers.update(extra)
    return headers


async def upload_attachment(
    api: Api,
    user: User,
    room_id: str,
    data: bytes,
    name: str = "notes.txt",
    mime_type: str = "text/plain",
    **extra: str,
) -> httpx.Response:
    return await api.post(
        f"/rooms/{room_id}/attachments",
        user,
        content=data,
        headers=upload_headers(name, mime_type) | extra,
    )


@asynccontextmanager
async def broken_storage(stored: Stored) -> AsyncIterator[None]:
    """Storage that fails every call inside the block, restored whole afterwards: the local
    folder of files replaced by a plain file, or the bucket deleted."""
    if stored.root is not None:
        files = stored.root / "files"
        files.mkdir(parents=True, exist_ok=True)
        aside = stored.root / "files.aside"
        files.rename(aside)
        files.write_bytes(b"not a folder")
        try:
            yield
        finally:
            files.unlink()
            aside.rename(files)
        return
    assert stored.client is not None and stored.bucket is not None
    saved = {key: await stored.read(key) for key in await stored.keys()}
    for key in saved:
        await stored.client.delete_object(Bucket=stored.bucket, Key=key)
    await stored.client.delete_bucket(Bucket=stored.bucket)
    try:
        yield
    finally:
        await stored.client.create_bucket(Bucket=stored.bucket)
        for key, data in saved.items():
            await stored.write(key, data or b"")
