"""Fixtures for the preview API tests: the app on both storage backends, real files to
preview, files stored in a room, and a previewer that counts its renders.

Every test here runs four times: SQLite and PostgreSQL (the root `backend` parameter) times
local and S3 storage (`storage`, S3 being a moto server on 127.0.0.1). `settings` and
`running` are overridden for that: the root ones are session fixtures without the storage
parameter, and a session fixture is reused whatever the folder asking for it.
"""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from tests.conftest import Api, User, Users, database_url_for
from tests.support.rooms import new_group
from wschats.adapters.blobs import LocalBlobStore, S3BlobStore
from wschats.adapters.db.migrate import upgrade
from wschats.bootstrap import Adapters, build_previewer
from wschats.config import Settings
from wschats.container import Container
from wschats.devtools.app import Running, running_app
from wschats.domain.files import blob_key
from wschats.domain.model import FileMetadata, FileType
from wschats.domain.previews import PreviewRequest, Rendered
from wschats.domain.time import utc_now
from wschats.ports import Previewer

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 200, 0)
# Colours of the pages of the five-page PDF, in order.
PAGE_COLOURS = [(255, 0, 0), (0, 128, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)]


# ------------------------------------------------------------------------ the app per storage


@pytest.fixture(scope="session", params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str,
    storage: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"previews-{backend}-{storage}")
    url = database_url_for(backend, request, data_dir)
    upgrade(url)
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        base_path="/services/chats",
        # The tests look at what storage holds; those of the memory cache turn it on.
        preview_memory_cache_mb=0,
    )
    if storage == "local":
        return settings
    return settings.model_copy(
        update={
            "storage_url": f"s3://previews-{uuid.uuid4().hex[:16]}",
            "s3_endpoint_url": request.getfixturevalue("s3_endpoint"),
            "s3_access_key": "test-access-key",
            "s3_secret_key": "test-secret-key",
            "s3_create_bucket": True,
        }
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running(settings: Settings, storage: str) -> AsyncIterator[Running]:
    """The app on this storage, its previewer counting the renders (see `renders`)."""
    previewer = build_previewer(settings)
    try:
        async with running_app(
            settings, previewer=CountingPreviewer(previewer), pictures=previewer
        ) as value:
            assert isinstance(
                value.adapters.blobs, S3BlobStore if storage == "s3" else LocalBlobStore
            )
            yield value
    finally:
        await previewer.close()


# ------------------------------------------------------------------------ counting renders


class CountingPreviewer:
    """A real previewer, counting the renders that reach it."""

    def __init__(self, inner: Previewer) -> None:
        self.inner = inner
        self.requests: list[PreviewRequest] = []

    @property
    def count(self) -> int:
        return len(self.requests)

    async def render(self, request: PreviewRequest, source: Path) -> Rendered:
        self.requests.append(request)
        return await self.inner.render(request, source)

    async def health(self) -> bool:
        return await self.inner.health()

    async def close(self) -> None:
        """The inner previewer is closed by whoever made it."""


@asynccontextmanager
async def another_app(
    settings: Settings, changes: dict[str, Any] | None = None, **overrides: Any
) -> AsyncIterator[tuple[Api, Running]]:
    """A second app on the same database and storage, with `changes` to the settings and
    adapters replaced by `overrides` (`previewer=...`); it stops (its cache writes done) on
    the way out."""
    changed = settings.model_copy(update=changes or {})
    async with running_app(changed, **overrides) as other, other.client() as client:
        yield Api(client), other


@pytest_asyncio.fixture(loop_scope="session")
async def renders(adapters: Adapters, api: Api) -> CountingPreviewer:
    """The app's previewer, which has counted no render yet in this test."""
    counting = adapters.previewer
    assert isinstance(counting, CountingPreviewer)
    counting.requests.clear()
    return counting


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def settled(container: Container, api: Api) -> AsyncIterator[None]:
    """Cache writes finish before the tables are emptied (they check their file's row)."""
    yield
    await container.previews.settle()


# ------------------------------------------------------------------------ a room with files


@dataclass
class Room:
    """A group of alice (owner), bob and carol; dave is in no room."""

    id: UUID
    alice: User
    bob: User
    carol: User
    dave: User
    api: Api

    async def store(self, content: bytes, mime_type: str, *, name: str = "file") -> UUID:
        """Upload `content` as alice's attachment, as the web client does."""
        response = await self.api.post(
            f"/services/chats/rooms/{self.id}/attachments",
            self.alice,
            content=content,
            headers={"fileName": escaped(name), "mimeType": mime_type},
        )
        assert response.status_code == 201, response.text
        return UUID(response.json()["id"])


def escaped(text: str) -> str:
    """The web client's header encoding: every character as \\uXXXX."""
    return "".join(f"\\u{ord(character):04x}" for character in text)


async def store_file(
    adapters: Adapters,
    content: bytes,
    mime_type: str,
    *,
    room_id: UUID | None,
    user: User,
    name: str = "file",
    file_type: FileType = FileType.ATTACHMENT,
) -> UUID:
    """A file stored as the upload stores it, bytes then metadata row, for what the upload
    endpoint does not make (a user's picture, which has no room)."""
    file_id = uuid.uuid4()

    async def chunks() -> AsyncIterator[bytes]:
        yield content

    await adapters.blobs.put(blob_key(file_id), chunks())
    now = utc_now()
    async with adapters.database.unit_of_work(write=True) as uow:
        await uow.files.add(
            FileMetadata(
                id=file_id,
                type=file_type,
                name=name,
                size=len(content),
                mime_type=mime_type,
                user_id=user.id,
                room_id=room_id,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    return file_id


@pytest_asyncio.fixture(loop_scope="session")
async def room(api: Api, users: Users) -> Room:
    alice, bob, carol, dave = await users.many(4)
    group = await new_group(api, alice, bob, carol)
    return Room(UUID(group["id"]), alice, bob, carol, dave, api)


# ------------------------------------------------------------------------ real files


def _halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def _pdf_of(pages: list[Image.Image]) -> bytes:
    # 72 dpi: one pixel is one PDF point, so page sizes are the image sizes.
    return _encoded(pages[0], "PDF", resolution=72.0, save_all=True, append_images=pages[1:])


@dataclass(frozen=True)
class Samples:
    photo_jpeg: bytes  # 600x400, left red, right blue
    alpha_png: bytes  # 400x200, left opaque green, right transparent
    gif: bytes  # 200x100 red, two frames
    webp: bytes  # 300x150, left red, right blue
    bmp: bytes  # 160x120, left red, right blue
    camera_jpeg: bytes  # 4000x3000 (12 MP)
    five_page_pdf: bytes  # five 200x300 pt pages, PAGE_COLOURS
    letterhead_pdf: bytes  # one 200x300 pt page: red top third, blue below
    encrypted_pdf: bytes  # the five pages behind a user password
    truncated_pdf: bytes  # the first half of the five-page PDF
    truncated_jpeg: bytes  # the first 60% of a noisy JPEG
    bomb_png: bytes  # a few KB declaring 20000x20000 pixels
    random: bytes  # 48 KB of noise


@pytest.fixture(scope="session")
def samples() -> Samples:
    five_pages = _pdf_of([Image.new("RGB", (200, 300), colour) for colour in PAGE_COLOURS])
    letterhead = Image.new("RGB", (200, 300), BLUE)
    ImageDraw.Draw(letterhead).rectangle((0, 0, 199, 99), fill=RED)

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(five_pages)))
    writer.encrypt(user_password="user-secret", owner_password="owner", algorithm="AES-256")
    encrypted = io.BytesIO()
    writer.write(encrypted)

    alpha = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    alpha.paste((*GREEN, 255), (0, 0, 200, 200))
    frames = [Image.new("RGB", (200, 100), colour) for colour in (RED, BLUE)]
    noisy = _encoded(Image.effect_noise((600, 400), 80).convert("RGB"), "JPEG", quality=95)
    bomb_header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    return Samples(
        photo_jpeg=_encoded(_halves((600, 400), RED, BLUE), "JPEG", quality=90),
        alpha_png=_encoded(alpha, "PNG"),
        gif=_encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        webp=_encoded(_halves((300, 150), RED, BLUE), "WEBP", quality=90),
        bmp=_encoded(_halves((160, 120), RED, BLUE), "BMP"),
        camera_jpeg=_encoded(_halves((4000, 3000), RED, BLUE), "JPEG", quality=90),
        five_page_pdf=five_pages,
        letterhead_pdf=_pdf_of([letterhead]),
        encrypted_pdf=encrypted.getvalue(),
        truncated_pdf=five_pages[: len(five_pages) // 2],
        truncated_jpeg=noisy[: len(noisy) * 6 // 10],
        bomb_png=b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", bomb_header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 200_000, 9))
        + _png_chunk(b"IEND", b""),
        random=os.urandom(48_000),
    )


# ------------------------------------------------------------------------ reading the output

PATH = "/services/chats/preview"


def assert_preview(response: httpx.Response, mime_type: str) -> bytes:
    """A 200 preview of type `mime_type` with the headers every preview carries."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == mime_type
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["cache-control"] == "private, max-age=86400"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in response.headers
    return response.content


def image_of(response: httpx.Response, fmt: str) -> Image.Image:
    """The decoded picture of a 200 preview in Pillow format `fmt` (JPEG, PNG, GIF, WEBP)."""
    content = assert_preview(response, f"image/{fmt.lower()}")
    image = Image.open(io.BytesIO(content))
    assert image.format == fmt
    image.load()
    return image


def page_colours(response: httpx.Response) -> list[tuple[int, ...]]:
    """The colour at the centre of each page of a 200 PDF preview, rendered by PDFium."""
    content = assert_preview(response, "application/pdf")
    document = pdfium.PdfDocument(content)
    try:
        colours = []
        for index in range(len(document)):
            page = document[index]
            assert page.get_size() == (200, 300)
            bitmap = page.render(scale=0.1).to_pil().convert("RGB")
            colours.append(pixel(bitmap, (bitmap.width // 2, bitmap.height // 2)))
        return colours
    finally:
        document.close()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def near(actual: object, expected: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
