"""Preview requests (DECISIONS.md#previews), validated and normalised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

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


# ---------------------------------------------------------------- requests from the API's text

_E = TypeVar("_E", bound=StrEnum)

_PAGE = re.compile(r"^[+-]?[0-9]{1,9}$")
_FLAGS = {"true": True, "false": False, "1": True, "0": False}
# Encoders that have no quality setting: the parameter changes nothing, so it is normalised
# away and requests differing only by it share one cache entry.
_QUALITY_IGNORED = frozenset({OutputFormat.PNG, OutputFormat.GIF})


def _choice(enum: type[_E], name: str, value: str | None) -> _E | None:
    """Case-insensitive, as the original's enum conversion (`Low`, `low`, `LOW`)."""
    if value is None:
        return None
    try:
        return enum(value.strip().lower())
    except ValueError:
        accepted = ", ".join(member.value.capitalize() for member in enum)
        raise BadRequest(f"{name} must be one of {accepted}, got {value!r}") from None


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return _FLAGS[value.strip().lower()]
    except KeyError:
        raise BadRequest(f"{name} must be true or false, got {value!r}") from None


def _page(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not _PAGE.match(value.strip()):
        raise BadRequest(f"{name} must be a whole page number, got {value!r}")
    return int(value)


def image_request(
    kind: PreviewKind,
    area: str,
    *,
    quality: str | None = None,
    output_format: str | None = None,
    crop: str | None = None,
    shape: str | None = None,
) -> PreviewRequest:
    """An image preview or thumbnail (of an image or of a PDF's first page), from the query
    text; unknown values, a malformed area and a non-boolean crop are `BadRequest`."""
    if kind is PreviewKind.PDF_PREVIEW:
        raise ValueError("a PDF preview has pages, not an area: use pdf_request")
    width, height = parse_area(area)
    chosen_quality = _choice(Quality, "quality", quality) or Quality.MEDIUM
    chosen_format = _choice(OutputFormat, "output_format", output_format)
    chosen_shape = _choice(Shape, "shape", shape) or Shape.RECTANGULAR
    cropped = _flag("crop", crop)
    if kind is PreviewKind.PDF_THUMBNAIL and chosen_format is None:
        chosen_format = OutputFormat.JPEG  # what the previewer picks for a page anyway
    if chosen_format in _QUALITY_IGNORED:
        chosen_quality = Quality.MEDIUM
    if kind is not PreviewKind.IMAGE_PREVIEW:
        cropped = False  # thumbnails always fill their box
    return PreviewRequest(
        kind=kind,
        width=width,
        height=height,
        quality=chosen_quality,
        output_format=chosen_format,
        crop=cropped,
        shape=chosen_shape,
    )


def pdf_request(first_page: str | None = None, last_page: str | None = None) -> PreviewRequest:
    """A PDF of pages `first_page..last_page` (1-based, last 0 = the last page). What can be
    refused without the file is refused here; a page past the end is the previewer's 400."""
    first = _page("firstPage", first_page, 1)
    last = _page("lastPage", last_page, 0)
    if first < 1:
        raise BadRequest(f"firstPage must be at least 1, got {first}")
    if last < 0:
        raise BadRequest(f"lastPage must be at least 0 (0 is the last page), got {last}")
    if last and first > last:
        raise BadRequest(f"firstPage {first} is after lastPage {last}")
    return PreviewRequest(kind=PreviewKind.PDF_PREVIEW, first_page=first, last_page=last)


# ---------------------------------------------------------------- sources and results

PDF_MIME_TYPE = "application/pdf"


def check_source(kind: PreviewKind, mime_type: str) -> None:
    """The file's stored mime type decides what it can be previewed as."""
    media = mime_type.split(";", 1)[0].strip().lower()
    wants_pdf = kind in (PreviewKind.PDF_PREVIEW, PreviewKind.PDF_THUMBNAIL)
    if wants_pdf and media != PDF_MIME_TYPE:
        raise BadRequest(f"the file is not a PDF (it is {media or 'of unknown type'})")
    if not wants_pdf and not media.startswith("image/"):
        raise BadRequest(f"the file is not an image (it is {media or 'of unknown type'})")


_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", PDF_MIME_TYPE),
)


def rendered_mime_type(head: bytes) -> str | None:
    """The type of a rendered preview from its first bytes (a cached one carries no
    metadata); None if it is none of the types a previewer produces."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _SIGNATURES if head.startswith(magic)), None)
