"""Pictures (room and user avatars) checked with Pillow: the `PictureInspector` port."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from wschats.domain.errors import BadRequest

# Decoders allowed for pictures: every one allowed is attack surface (DECISIONS.md#files).
PICTURE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


class PillowPictureInspector:
    def __init__(self, max_pixels: int) -> None:
        self._max_pixels = max_pixels

    async def picture_type(self, data: bytes) -> str:
        # Decoding blocks: off the event loop.
        return await asyncio.to_thread(picture_type, data, self._max_pixels)


def picture_type(data: bytes, max_pixels: int) -> str:
    """The mime type of `data` if it is a whole picture of an allowed type, else `BadRequest`.

    Decodes every pixel, so a truncated file is refused, after checking the declared pixel
    count (decompression bombs). Blocking: run it in a thread.
    """
    try:
        with Image.open(io.BytesIO(data), formats=list(PICTURE_TYPES)) as image:
            if image.width * image.height > max_pixels:
                raise BadRequest(f"The picture has more than {max_pixels} pixels")
            image.load()
            found = image.format
    except BadRequest:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        # UnidentifiedImageError is an OSError; truncated data raises OSError or EOFError.
        raise BadRequest("The picture is not an image that can be decoded") from None
    if found not in PICTURE_TYPES:
        raise BadRequest("The picture is not an image that can be decoded")
    return PICTURE_TYPES[found]
