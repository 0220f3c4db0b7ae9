"""Real files to preview, generated once per test session with Pillow, pypdfium2 and pypdf."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from wschats.adapters.preview.inprocess import InProcessPreviewer

# Colours of the pages of `five_page_pdf`, in order (test modules repeat them: no package
# to import them from under --import-mode=importlib).
PAGE_COLOURS = ["red", "green", "blue", "yellow", "black"]
RED = (255, 0, 0)
BLUE = (0, 0, 255)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("preview-samples")


@pytest.fixture(scope="session")
async def previewer() -> AsyncIterator[InProcessPreviewer]:
    previewer = InProcessPreviewer(workers=2, timeout_seconds=60)
    yield previewer
    await previewer.close()


def _halves(
    size: tuple[int, int], first: tuple[int, int, int], second: tuple[int, int, int]
) -> Image.Image:
    """Left half `first`, right half `second`."""
    image = Image.new("RGB", size, second)
    image.paste(first, (0, 0, size[0] // 2, size[1]))
    return image


@pytest.fixture(scope="session")
def big_rotated_jpeg(samples: Path) -> Path:
    """12 MP, stored landscape 4000x3000 (left red, right blue) with EXIF orientation 6.

    Upright it is portrait 3000x4000: red on top, blue at the bottom.
    """
    path = samples / "camera.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    _halves((4000, 3000), RED, BLUE).save(path, "JPEG", quality=90, exif=exif)
    return path


@pytest.fixture(scope="session")
def noisy_jpeg(samples: Path) -> Path:
    path = samples / "noise.jpg"
    Image.effect_noise((600, 400), 80).convert("RGB").save(path, "JPEG", quality=95)
    return path


@pytest.fixture(scope="session")
def palette_png(samples: Path) -> Path:
    """A 1-pixel black/white checkerboard in palette mode: grey when resized properly."""
    path = samples / "checkerboard.png"
    image = Image.new("P", (300, 200), 0)
    image.putpalette([0, 0, 0, 255, 255, 255])
    for y in range(200):
        for x in range(y % 2, 300, 2):
            image.putpixel((x, y), 1)
    image.save(path, "PNG")
    return path


@pytest.fixture(scope="session")
def rgba_png(samples: Path) -> Path:
    """400x200: left half opaque green, right half fully transparent."""
    path = samples / "half-transparent.png"
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    image.paste((0, 200, 0, 255), (0, 0, 200, 200))
    image.save(path, "PNG")
    return path


@pytest.fixture(scope="session")
def gif(samples: Path) -> Path:
    path = samples / "animation.gif"
    frames = [Image.new("RGB", (200, 100), colour) for colour in ("red", "blue")]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return path


@pytest.fixture(scope="session")
def webp(samples: Path) -> Path:
    path = samples / "photo.webp"
    _halves((300, 150), RED, BLUE).save(path, "WEBP", quality=90)
    return path


@pytest.fixture(scope="session")
def bmp(samples: Path) -> Path:
    path = samples / "picture.bmp"
    _halves((160, 120), RED, BLUE).save(path, "BMP")
    return path


@pytest.fixture(scope="session")
def tiff(samples: Path) -> Path:
    path = samples / "scan.tiff"
    _halves((160, 120), RED, BLUE).save(path, "TIFF", compression="tiff_lzw")
    return path


@pytest.fixture(scope="session")
def cmyk_jpeg(samples: Path) -> Path:
    path = samples / "print.jpg"
    Image.new("CMYK", (200, 200), (0, 255, 255, 0)).save(path, "JPEG")  # red in CMYK
    return path


@pytest.fixture(scope="session")
def grey16_png(samples: Path) -> Path:
    """16-bit greyscale at half intensity."""
    path = samples / "grey16.png"
    Image.new("I;16", (120, 120), 32768).save(path, "PNG")
    return path


@pytest.fixture(scope="session")
def tiny_png(samples: Path) -> Path:
    path = samples / "tiny.png"
    Image.new("RGB", (20, 20), RED).save(path, "PNG")
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


@pytest.fixture(scope="session")
def bomb_png(samples: Path) -> Path:
    """A valid PNG header declaring 20000x20000 (400 megapixels) in a few KB."""
    path = samples / "bomb.png"
    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 200_000, 9)
    content = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )
    assert len(content) < 10_000
    path.write_bytes(content)
    return path


@pytest.fixture(scope="session")
def random_bytes(samples: Path) -> Path:
    path = samples / "random.bin"
    path.write_bytes(os.urandom(48_000))
    return path


@pytest.fixture(scope="session")
def truncated_jpeg(samples: Path, noisy_jpeg: Path) -> Path:
    path = samples / "truncated.jpg"
    content = noisy_jpeg.read_bytes()
    path.write_bytes(content[: len(content) * 6 // 10])
    return path


def _pdf_of(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    # 72 dpi: one pixel is one PDF point, so page sizes are the image sizes.
    pages[0].save(buffer, "PDF", resolution=72.0, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


@pytest.fixture(scope="session")
def five_page_pdf(samples: Path) -> Path:
    """Five 200x300 pt pages, each filled with one of PAGE_COLOURS."""
    path = samples / "five-pages.pdf"
    path.write_bytes(_pdf_of([Image.new("RGB", (200, 300), colour) for colour in PAGE_COLOURS]))
    return path


@pytest.fixture(scope="session")
def letterhead_pdf(samples: Path) -> Path:
    """One 200x300 pt page: red top third, blue below."""
    path = samples / "letterhead.pdf"
    page = Image.new("RGB", (200, 300), BLUE)
    ImageDraw.Draw(page).rectangle((0, 0, 199, 99), fill=RED)
    path.write_bytes(_pdf_of([page]))
    return path


def _encrypted(source: Path, target: Path, *, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    with target.open("wb") as file:
        writer.write(file)
    return target


@pytest.fixture(scope="session")
def password_pdf(samples: Path, five_page_pdf: Path) -> Path:
    return _encrypted(five_page_pdf, samples / "password.pdf", user_password="user-secret")


@pytest.fixture(scope="session")
def restricted_pdf(samples: Path, five_page_pdf: Path) -> Path:
    """Encrypted with an owner password only: opens without a password, like in any viewer."""
    return _encrypted(five_page_pdf, samples / "restricted.pdf", user_password="")


@pytest.fixture(scope="session")
def half_pdf(samples: Path, five_page_pdf: Path) -> Path:
    path = samples / "half.pdf"
    content = five_page_pdf.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


@pytest.fixture(scope="session")
def pdf_missing_end(samples: Path, five_page_pdf: Path) -> Path:
    """Only the last few bytes cut: PDFium alone would still open it."""
    path = samples / "no-eof.pdf"
    content = five_page_pdf.read_bytes()
    cut = content.rindex(b"%%EOF")
    path.write_bytes(content[:cut])
    return path


@pytest.fixture(scope="session")
def garbage_pdf(samples: Path) -> Path:
    """A PDF envelope around random bytes."""
    path = samples / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4000) + b"\n%%EOF\n")
    return path
