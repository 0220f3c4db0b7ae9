"""Raster work with Pillow: safe decoding, scaling into a layout, masks and encoding.

Runs inside the preview worker processes only (CPU-bound, never on the event loop).
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import (
    Image,
    ImageChops,
    ImageCms,
    ImageDraw,
    ImageOps,
    JpegImagePlugin,
    UnidentifiedImageError,
)

from wschats.adapters.preview.geometry import Fit, Layout, plan
from wschats.domain.errors import BadRequest
from wschats.domain.previews import (
    OutputFormat,
    PreviewKind,
    PreviewRequest,
    Quality,
    Rendered,
    Shape,
)

# Every decoder allowed here is attack surface: only what users actually send as pictures.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

_KEPT_FORMATS = {
    "JPEG": OutputFormat.JPEG,
    "MPO": OutputFormat.JPEG,  # camera JPEGs with extra pictures; Pillow names them MPO
    "PNG": OutputFormat.PNG,
    "GIF": OutputFormat.GIF,
    "WEBP": OutputFormat.WEBP,
}
_QUALITY = {
    Quality.LOWEST: 0,  # valid for both Pillow's JPEG (0..95) and WEBP (0..100) encoders
    Quality.LOW: 15,
    Quality.MEDIUM: 50,
    Quality.HIGH: 80,
    Quality.HIGHEST: 95,
}
_PILLOW_FORMAT = {
    OutputFormat.JPEG: "JPEG",
    OutputFormat.PNG: "PNG",
    OutputFormat.GIF: "GIF",
    OutputFormat.WEBP: "WEBP",
}
# EXIF orientations 5..8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112
_TRANSPARENT = (255, 255, 255, 0)
# JPEG has no alpha: transparent parts and padding become white, like the page or chat
# bubble they are shown on (the original's black bars looked like a broken image).
_JPEG_BACKGROUND = (255, 255, 255)
_SRGB = ImageCms.createProfile("sRGB")
# The rounded mask is drawn larger then scaled down, for a smooth edge; bounded in pixels.
_MASK_SUPERSAMPLING = 4
_MASK_MAX_PIXELS = 16_000_000

# What Pillow raises on hostile or broken bytes (struct.error and EOFError come from
# plugins reading past short headers).
_DECODE_ERRORS = (
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
)


@contextmanager
def decoding(what: str, max_pixels: int) -> Iterator[None]:
    """Turn decoder failures into a 400 that says what could not be read."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its bound and twice its bound; refuse there too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise BadRequest(
            f"{what} is not an image in a supported format ({', '.join(ALLOWED_FORMATS)})"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadRequest(f"{what} has more than the {max_pixels} pixels allowed") from None
    except _DECODE_ERRORS as exc:
        raise BadRequest(f"{what} cannot be decoded: {exc}") from None


def render_image(request: PreviewRequest, source: IO[bytes], max_pixels: int) -> Rendered:
    thumbnail = request.kind is PreviewKind.IMAGE_THUMBNAIL
    with decoding("the image", max_pixels):
        Image.MAX_IMAGE_PIXELS = max_pixels  # process-wide; each worker runs one task at a time
        image = Image.open(source, formats=ALLOWED_FORMATS)
        if image.width * image.height > max_pixels:
            raise BadRequest(
                f"the image has {image.width}x{image.height} pixels, more than the "
                f"{max_pixels} pixels allowed"
            )
        turned = _exif_orientation(image) in _QUARTER_TURNS
        upright = (image.height, image.width) if turned else image.size
        layout = plan(
            upright,
            (request.width, request.height),
            thumbnail=thumbnail,
            fit=Fit.COVER if thumbnail or request.crop else Fit.CONTAIN,
            max_pixels=max_pixels,
        )
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            # libjpeg decodes straight to 1/2, 1/4 or 1/8 size, never below the asked size.
            needed = (math.ceil(upright[0] * layout.scale), math.ceil(upright[1] * layout.scale))
            image.draft(None, (needed[1], needed[0]) if turned else needed)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        picture = to_rgb(image)
    source_format = _KEPT_FORMATS.get(image.format or "", OutputFormat.JPEG)
    drawn = in_srgb(draw(picture, layout, upright), image.info.get("icc_profile"))
    return finish(drawn, request, request.output_format or source_format)


def draw(picture: Image.Image, layout: Layout, source_size: tuple[float, float]) -> Image.Image:
    """Scale `layout.region` of `picture` (whose full size is `source_size`) onto the canvas.

    The picture may be smaller than `source_size` (reduced-size JPEG decode).
    """
    ratio_x = picture.width / source_size[0]
    ratio_y = picture.height / source_size[1]
    left, top, right, bottom = layout.region
    box = (left * ratio_x, top * ratio_y, right * ratio_x, bottom * ratio_y)
    if layout.content == picture.size and box == (0, 0, picture.width, picture.height):
        content = picture
    else:
        content = picture.resize(
            layout.content, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0
        )
    if not layout.padded:
        return content
    canvas = Image.new("RGBA", layout.canvas, _TRANSPARENT)
    canvas.paste(content, layout.offset)
    return canvas


def finish(picture: Image.Image, request: PreviewRequest, output: OutputFormat) -> Rendered:
    """Apply the shape, then encode in the output format at the requested quality."""
    if request.shape is Shape.ROUNDED:
        picture = _round(picture)
    without_metadata(picture)
    buffer = io.BytesIO()
    quality = _QUALITY[request.quality]
    if output is OutputFormat.JPEG:
        _flatten(picture).save(buffer, "JPEG", quality=quality)
    elif output is OutputFormat.WEBP:
        picture.save(buffer, "WEBP", quality=quality)
    else:
        # PNG is lossless and GIF is palette-bound: quality has nothing to tune there.
        picture.save(buffer, _PILLOW_FORMAT[output])
    return Rendered(content=buffer.getvalue(), mime_type=f"image/{output.value}")


def _exif_orientation(image: Image.Image) -> int:
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def without_metadata(picture: Image.Image) -> None:
    """Forget what the source said about itself (EXIF, XMP, comments, text chunks, colour
    profile), which Pillow would otherwise copy into some outputs: a JPEG's comment into a
    JPEG or GIF, a profile into a PNG. Pixels already in sRGB (`in_srgb`) need no profile."""
    picture.info.clear()


def in_srgb(picture: Image.Image, icc_profile: object) -> Image.Image:
    """`picture` (RGB or RGBA) converted from its colour profile to sRGB, so that it shows
    the same colours without one. A profile that cannot be read or does not describe RGB
    leaves the pixels as they are."""
    if not isinstance(icc_profile, bytes) or not icc_profile:
        return picture
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(picture, source, _SRGB, outputMode=picture.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return picture
    return converted if converted is not None else picture


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has transparency, so resizing can blend colours.

    Palette and 1-bit pictures resized as they are would use their nearest colours.
    """
    if image.mode in ("RGB", "RGBA") and "transparency" not in image.info:
        return image
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        # 16-bit samples: keep the top 8 bits rather than clipping everything to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    has_alpha = "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _flatten(picture: Image.Image) -> Image.Image:
    if picture.mode != "RGBA":
        return picture.convert("RGB")
    background = Image.new("RGB", picture.size, _JPEG_BACKGROUND)
    background.paste(picture, (0, 0), picture)
    return background


def _round(picture: Image.Image) -> Image.Image:
    """An ellipse inscribed in the picture (a circle for a square box), corners transparent."""
    width, height = picture.size
    factor = max(1, min(_MASK_SUPERSAMPLING, math.isqrt(_MASK_MAX_PIXELS // (width * height))))
    mask = Image.new("L", (width * factor, height * factor), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, width * factor - 1, height * factor - 1), fill=255)
    if factor > 1:
        mask = mask.resize((width, height), Image.Resampling.LANCZOS)
    rounded = picture.convert("RGBA")
    rounded.putalpha(ImageChops.multiply(rounded.getchannel("A"), mask))
    return rounded
