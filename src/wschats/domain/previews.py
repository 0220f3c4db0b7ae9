"""Preview requests (decisions D6, files-and-previews.md), validated and normalised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from wschats.domain.errors import BadRequest


class PreviewKind(StrEnum):
    IMAGE_PREVIEW = "image_preview"
    IMAGE_THUMBNAIL = "image_thumbnail"
    PDF_PREVIEW = "pdf_preview"
    PDF_THUMBNAIL = "pdf_thumbnail"


class Quality(StrEnum):
    LOWEST = "lowest"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    HIGHEST = "highest"


class OutputFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"


class Shape(StrEnum):
    RECTANGULAR = "rectangular"
    ROUNDED = "rounded"


# Upper bound of a requested dimension: nothing a client can show needs more.
MAX_PREVIEW_DIMENSION = 8192

_AREA = re.compile(r"^([0-9]{1,6})x([0-9]{1,6})$")


def parse_area(value: str) -> tuple[int, int]:
    """`WIDTHxHEIGHT` in digits; 0 means "derive from the other / original"."""
    match = _AREA.match(value)
    if not match:
        raise BadRequest(f"area must be WIDTHxHEIGHT in digits, got {value!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width > MAX_PREVIEW_DIMENSION or height > MAX_PREVIEW_DIMENSION:
        raise BadRequest(f"area dimensions must be at most {MAX_PREVIEW_DIMENSION}")
    return width, height


@dataclass(frozen=True)
class PreviewRequest:
    """Normalised parameters; equal requests give equal output (the cache key)."""

    kind: PreviewKind
    width: int = 0
    height: int = 0
    quality: Quality = Quality.MEDIUM
    output_format: OutputFormat | None = None  # None: keep the source format if possible
    crop: bool = False
    shape: Shape = Shape.RECTANGULAR
    first_page: int = 1
    last_page: int = 0  # 0: up to the last page

    def cache_key(self) -> str:
        fmt = self.output_format.value if self.output_format else "auto"
        return (
            f"{self.kind.value}-{self.width}x{self.height}-{self.quality.value}-{fmt}"
            f"-{'crop' if self.crop else 'fit'}-{self.shape.value}"
            f"-p{self.first_page}-{self.last_page}"
        )


@dataclass(frozen=True)
class Rendered:
    content: bytes
    mime_type: str
