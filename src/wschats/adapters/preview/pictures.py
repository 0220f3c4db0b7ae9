"""Room and user pictures, re-encoded with Pillow: what the `PictureNormaliser` port stores.

Runs inside the preview worker processes only (CPU-bound, never on the event loop).

A picture is shown to every member or contact, so what is stored is a picture wschats wrote
itself, never the uploaded bytes: decoded whole (a truncated file is refused), upright (EXIF
orientation applied), at most `max_side` pixels on its long side (aspect kept, never
enlarged), in sRGB, with no metadata (EXIF, GPS, XMP, comments, text chunks, profile).

Truncation: a file cut anywhere fails to decode, and a PNG whose image data holds fewer rows
than its header declares is refused too (Pillow would fill them in). A JPEG cut and then
closed with an end marker is the one case left: libjpeg fills the missing rows in and does
not say so through Pillow; the stored picture is still whole, with grey rows.

Stored types: JPEG stays JPEG (quality 85), PNG stays PNG, WebP stays WebP (quality 85,
alpha kept), GIF becomes PNG (a resized GIF would lose colours to its palette; PNG keeps
them and transparency). Animated GIF, PNG or WebP: the first frame, as a still picture.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

from PIL import Image, ImageOps, JpegImagePlugin

from wschats.adapters.preview.images import decoding, in_srgb, to_rgb, without_metadata
from wschats.domain.errors import BadRequest
from wschats.domain.previews import Rendered

# Decoders allowed for pictures: every one allowed is attack surface (DECISIONS.md#files).
PICTURE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_QUALITY = 85
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def normalise_picture(data: bytes, max_side: int, max_pixels: int) -> Rendered:
    """`data` re-encoded as described above; `BadRequest` when it is not a whole picture of
    an allowed type or declares more than `max_pixels` pixels."""
    with decoding("the picture", max_pixels):
        Image.MAX_IMAGE_PIXELS = max_pixels  # process-wide; each worker runs one task at a time
        image = Image.open(io.BytesIO(data), formats=PICTURE_FORMATS)
        if image.width * image.height > max_pixels:
            raise BadRequest(
                f"the picture has {image.width}x{image.height} pixels, more than the "
                f"{max_pixels} pixels allowed"
            )
        if image.format == "PNG":
            _check_png_is_whole(data)
        source_format = image.format
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        turned = isinstance(orientation, int) and orientation in _QUARTER_TURNS
        upright = (image.height, image.width) if turned else image.size
        scale = min(1.0, max_side / max(upright))
        target = (max(1, round(upright[0] * scale)), max(1, round(upright[1] * scale)))
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            # libjpeg decodes straight to 1/2, 1/4 or 1/8 size, never below the target.
            needed = (math.ceil(upright[0] * scale), math.ceil(upright[1] * scale))
            image.draft(None, (needed[1], needed[0]) if turned else needed)
        image.load()  # the first frame of an animation
        ImageOps.exif_transpose(image, in_place=True)
        picture = to_rgb(image)
        if picture.size != target:
            picture = picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        picture = in_srgb(picture, image.info.get("icc_profile"))
    without_metadata(picture)
    buffer = io.BytesIO()
    if source_format in ("JPEG", "MPO"):
        picture.convert("RGB").save(buffer, "JPEG", quality=_QUALITY)
        return Rendered(content=buffer.getvalue(), mime_type="image/jpeg")
    if source_format == "WEBP":
        picture.save(buffer, "WEBP", quality=_QUALITY)
        return Rendered(content=buffer.getvalue(), mime_type="image/webp")
    picture.save(buffer, "PNG")
    return Rendered(content=buffer.getvalue(), mime_type="image/png")


# ---------------------------------------------------------------- PNG completeness

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
# Adam7 passes: first column, first row, column step, row step.
_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
_ADAM7.append((0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def _check_png_is_whole(data: bytes) -> None:
    """Refuse a PNG whose image data holds fewer rows than its header declares.

    Pillow decodes a compressed stream that ends early without complaint (the missing rows
    stay black), so a file cut after its first rows and closed again would be accepted.
    """
    header: tuple[int, int, int, int, int] | None = None
    compressed: list[bytes] = []
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        body = data[at + 8 : at + 8 + length]
        if kind == b"IHDR" and len(body) >= 13:
            width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", body)
            header = (width, height, depth, colour, interlace)
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None or header[3] not in _CHANNELS:
        return  # Pillow has judged the header already
    width, height, depth, colour, interlace = header
    bits = _CHANNELS[colour] * depth

    def row_bytes(pixels: int) -> int:
        return 1 + (pixels * bits + 7) // 8  # one filter byte per row

    if interlace:
        expected = sum(
            rows * row_bytes(columns)
            for x0, y0, dx, dy in _ADAM7
            if (columns := -(-(width - x0) // dx) if width > x0 else 0)
            and (rows := -(-(height - y0) // dy) if height > y0 else 0)
        )
    else:
        expected = height * row_bytes(width)
    found = _inflated_size(compressed, expected)
    if found < expected:
        held = (
            "part of its rows" if interlace else f"{found // row_bytes(width)} of its {height} rows"
        )
        raise BadRequest(f"the picture is truncated: its image data holds only {held}")


def _inflated_size(compressed: list[bytes], enough: int) -> int:
    """How many bytes `compressed` inflates to, counting no further than `enough`."""
    inflater = zlib.decompressobj()
    size = 0
    try:
        for piece in compressed:
            pending = piece
            while pending and size < enough:
                size += len(inflater.decompress(pending, _INFLATE_STEP))
                pending = inflater.unconsumed_tail
            if size >= enough or inflater.eof:
                break
    except zlib.error:
        return size  # a corrupt stream: Pillow's decoding has refused it already
    return size
