"""Real images that carry every kind of metadata, and a reader that lists the metadata blocks
an encoded image holds (by walking its container, not by asking Pillow what it kept).

Every text the sources carry contains SECRET, so a test can also look for it in the bytes.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageCms, PngImagePlugin

SECRET = b"SECRET"
_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SECRET-XMP</rdf:RDF></x:xmpmeta>'


def exif() -> Image.Exif:
    data = Image.Exif()
    data[0x010E] = "SECRET description"  # ImageDescription
    data[0x013B] = "SECRET artist"  # Artist
    gps = data.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)  # GPSLatitudeRef, GPSLatitude
    return data


def srgb_profile() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def swapped_profile() -> bytes:
    """An RGB profile whose red and green primaries are swapped: pixels described by it
    look green where their red sample is high, so a converted picture shows whether the
    profile was applied."""
    profile = bytearray(srgb_profile())
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = {}
    for index in range(count):
        at = 132 + 12 * index
        signature = bytes(profile[at : at + 4])
        entries[signature] = (at, profile[at + 4 : at + 12])
    (red_at, red), (green_at, green) = entries[b"rXYZ"], entries[b"gXYZ"]
    profile[red_at + 4 : red_at + 12], profile[green_at + 4 : green_at + 12] = green, red
    return bytes(profile)


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    picture = Image.new(mode, size, (200, 40, 40, 255)[: len(mode)])
    picture.paste((40, 40, 200, 255)[: len(mode)], (0, 0, size[0] // 2, size[1]))
    return picture


def jpeg_with_metadata(size: tuple[int, int] = (300, 200)) -> bytes:
    buffer = io.BytesIO()
    _picture(size).save(
        buffer,
        "JPEG",
        comment=b"SECRET comment",
        exif=exif(),
        icc_profile=srgb_profile(),
        xmp=_XMP,
    )
    return buffer.getvalue()


def png_with_metadata(size: tuple[int, int] = (300, 200), mode: str = "RGBA") -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SECRET tEXt")
    text.add_text("Author", "SECRET zTXt", zip=True)
    text.add_itxt("XML:com.adobe.xmp", _XMP.decode())
    buffer = io.BytesIO()
    _picture(size, mode).save(buffer, "PNG", pnginfo=text, exif=exif(), icc_profile=srgb_profile())
    return buffer.getvalue()


def webp_with_metadata(size: tuple[int, int] = (300, 200)) -> bytes:
    buffer = io.BytesIO()
    _picture(size, "RGBA").save(
        buffer, "WEBP", exif=exif(), icc_profile=srgb_profile(), xmp=_XMP, quality=90
    )
    return buffer.getvalue()


def gif_with_comment(size: tuple[int, int] = (300, 200)) -> bytes:
    buffer = io.BytesIO()
    _picture(size).save(buffer, "GIF", comment=b"SECRET comment")
    return buffer.getvalue()


SOURCES = {
    "jpeg": jpeg_with_metadata,
    "png": png_with_metadata,
    "webp": webp_with_metadata,
    "gif": gif_with_comment,
}


def metadata_blocks(data: bytes) -> list[str]:
    """The metadata blocks of an encoded JPEG, PNG, WebP or GIF: EXIF, XMP, ICC profiles,
    comments, text chunks and any other block that describes rather than draws."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg_blocks(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_blocks(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_blocks(data)
    if data[:4] == b"GIF8":
        return _gif_blocks(data)
    raise AssertionError(f"not an image this reader knows: {data[:12]!r}")


def _jpeg_blocks(data: bytes) -> list[str]:
    found: list[str] = []
    at = 2
    while at < len(data):
        assert data[at] == 0xFF, f"no marker at {at}"
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the rest is pixels
            return found
        (length,) = struct.unpack_from(">H", data, at + 2)
        segment = data[at + 4 : at + 2 + length]
        if marker == 0xFE:
            found.append("COM")
        elif 0xE1 <= marker <= 0xEF:
            found.append(f"APP{marker - 0xE0}:{segment[:12]!r}")
        elif marker == 0xE0 and not segment.startswith(b"JFIF\x00"):
            found.append(f"APP0:{segment[:12]!r}")
        at += 2 + length
    return found


def _png_blocks(data: bytes) -> list[str]:
    drawing = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    found: list[str] = []
    at = 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind not in drawing:
            found.append(kind.decode("latin-1"))
        at += 12 + length
    return found


def _webp_blocks(data: bytes) -> list[str]:
    found: list[str] = []
    at = 12
    while at + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, at)
        if kind == b"VP8X" and data[at + 8] & 0b0010_1100:  # ICC, EXIF, XMP flags
            found.append("VP8X metadata flags")
        elif kind not in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH"):
            found.append(kind.decode("latin-1"))
        at += 8 + length + (length & 1)
    return found


def _gif_blocks(data: bytes) -> list[str]:
    found: list[str] = []
    flags = data[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while at < len(data) and data[at] != 0x3B:
        if data[at] == 0x21:
            label = data[at + 1]
            if label not in (0xF9, 0xFF):  # graphic control, application (looping)
                found.append(f"extension 0x{label:02X}")
            at += 2
        elif data[at] == 0x2C:
            flags = data[at + 9]
            at += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        else:
            raise AssertionError(f"unexpected GIF block 0x{data[at]:02X}")
        while data[at]:  # sub-blocks
            at += data[at] + 1
        at += 1
    return found
