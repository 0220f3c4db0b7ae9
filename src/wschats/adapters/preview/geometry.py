"""Where a picture lands in a preview: the output size and the part of the source drawn into it.

Pure arithmetic on sizes, shared by images and PDF pages (whose "pixels" are PDF points).
The rules and the edge cases they settle are listed in the package docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from wschats.domain.errors import BadRequest
from wschats.domain.previews import MAX_PREVIEW_DIMENSION

MIN_DIMENSION = 80
# An original with a side under MIN_DIMENSION is enlarged at most this many times.
MAX_SMALL_ORIGINAL_STRETCH = 2.0
DEFAULT_THUMBNAIL_BOX = (320, 320)


class Fit(Enum):
    CONTAIN = "contain"  # scale to fit inside the box, pad the rest
    COVER = "cover"  # scale to fill the box, cut what overflows


class Anchor(Enum):
    CENTER = "center"
    TOP = "top"  # documents: the start of a page says more than its middle


@dataclass(frozen=True)
class Layout:
    """Draw `region` of the source, scaled to `content`, at `offset` on a `canvas`."""

    canvas: tuple[int, int]
    content: tuple[int, int]
    offset: tuple[int, int]
    region: tuple[float, float, float, float]  # left, top, right, bottom in source units
    scale: float  # output pixels per source unit

    @property
    def padded(self) -> bool:
        return self.canvas != self.content


def plan(
    source: tuple[float, float],
    requested: tuple[int, int],
    *,
    thumbnail: bool,
    fit: Fit,
    anchor: Anchor = Anchor.CENTER,
    max_pixels: int,
) -> Layout:
    source_w, source_h = source
    if not (source_w > 0 and source_h > 0):
        raise BadRequest("the file has no visible area to preview")
    box = _resolve_box(source, requested, thumbnail=thumbnail)
    box_w, box_h = _bound(_limit_stretch(_raise_small(box), source, fit), max_pixels)

    if fit is Fit.COVER:
        scale = max(box_w / source_w, box_h / source_h)
        region_w = min(source_w, box_w / scale)
        region_h = min(source_h, box_h / scale)
        left = (source_w - region_w) / 2
        top = 0.0 if anchor is Anchor.TOP else (source_h - region_h) / 2
        return Layout(
            canvas=(box_w, box_h),
            content=(box_w, box_h),
            offset=(0, 0),
            region=(left, top, left + region_w, top + region_h),
            scale=scale,
        )

    scale = min(box_w / source_w, box_h / source_h)
    content_w = min(box_w, max(1, round(source_w * scale)))
    content_h = min(box_h, max(1, round(source_h * scale)))
    return Layout(
        canvas=(box_w, box_h),
        content=(content_w, content_h),
        offset=((box_w - content_w) // 2, (box_h - content_h) // 2),
        region=(0.0, 0.0, float(source_w), float(source_h)),
        scale=scale,
    )


def _resolve_box(
    source: tuple[float, float], requested: tuple[int, int], *, thumbnail: bool
) -> tuple[int, int]:
    """Replace the zeros of a requested area by sizes derived from the source."""
    source_w, source_h = source
    width, height = requested
    if width and height:
        return width, height
    if width:
        return width, max(1, round(width * source_h / source_w))
    if height:
        return max(1, round(height * source_w / source_h)), height
    if not thumbnail:
        return max(1, round(source_w)), max(1, round(source_h))
    # The default thumbnail box is an upper bound: a small original is not enlarged.
    scale = min(1.0, DEFAULT_THUMBNAIL_BOX[0] / source_w, DEFAULT_THUMBNAIL_BOX[1] / source_h)
    return max(1, round(source_w * scale)), max(1, round(source_h * scale))


def _raise_small(box: tuple[int, int]) -> tuple[int, int]:
    return max(box[0], MIN_DIMENSION), max(box[1], MIN_DIMENSION)


def _limit_stretch(box: tuple[int, int], source: tuple[float, float], fit: Fit) -> tuple[int, int]:
    """Shrink the box (keeping its shape) so a small original is not enlarged too much."""
    if min(source) >= MIN_DIMENSION:
        return box
    ratios = (box[0] / source[0], box[1] / source[1])
    stretch = max(ratios) if fit is Fit.COVER else min(ratios)
    if stretch <= MAX_SMALL_ORIGINAL_STRETCH:
        return box
    shrink = MAX_SMALL_ORIGINAL_STRETCH / stretch
    return max(1, round(box[0] * shrink)), max(1, round(box[1] * shrink))


def _bound(box: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """Shrink a box (keeping its proportions) to the dimension and pixel bounds."""
    width, height = box
    shrink = min(
        1.0,
        MAX_PREVIEW_DIMENSION / width,
        MAX_PREVIEW_DIMENSION / height,
        math.sqrt(max_pixels / (width * height)),
    )
    if shrink >= 1.0:
        return width, height
    return max(1, math.floor(width * shrink)), max(1, math.floor(height * shrink))
