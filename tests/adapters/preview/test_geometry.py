"""The size rules of previews, on plain numbers (the previewer tests check them on files)."""

from __future__ import annotations

import pytest

from wschats.adapters.preview.geometry import Anchor, Fit, Layout, plan
from wschats.domain.errors import BadRequest

BIG = 50_000_000


def thumbnail(source: tuple[float, float], requested: tuple[int, int], **options: object) -> Layout:
    return plan(source, requested, thumbnail=True, fit=Fit.COVER, max_pixels=BIG, **options)  # type: ignore[arg-type]


def preview(
    source: tuple[float, float], requested: tuple[int, int], fit: Fit = Fit.CONTAIN
) -> Layout:
    return plan(source, requested, thumbnail=False, fit=fit, max_pixels=BIG)


def test_contain_pads_the_short_side_evenly() -> None:
    layout = preview((400, 200), (300, 300))

    assert layout.canvas == (300, 300)
    assert layout.content == (300, 150)
    assert layout.offset == (0, 75)
    assert layout.padded


def test_cover_cuts_the_centre() -> None:
    layout = thumbnail((400, 200), (100, 100))

    assert layout.canvas == layout.content == (100, 100)
    assert layout.region == (100, 0, 300, 200)
    assert not layout.padded


def test_cover_anchored_at_the_top_keeps_the_top() -> None:
    layout = thumbnail((200, 300), (100, 100), anchor=Anchor.TOP)

    assert layout.region == (0, 0, 200, 200)


@pytest.mark.parametrize(
    ("source", "requested", "canvas"),
    [
        ((400, 200), (200, 0), (200, 100)),
        ((400, 200), (0, 150), (300, 150)),
        ((400, 200), (0, 0), (400, 200)),
        ((3000, 4000), (0, 0), (3000, 4000)),
    ],
)
def test_zero_sides_are_derived(
    source: tuple[int, int], requested: tuple[int, int], canvas: tuple[int, int]
) -> None:
    assert preview(source, requested).canvas == canvas
    assert preview(source, requested, Fit.COVER).canvas == canvas


@pytest.mark.parametrize(
    ("source", "canvas"),
    [((3000, 4000), (240, 320)), ((1000, 500), (320, 160)), ((200, 100), (200, 100))],
)
def test_thumbnail_of_0x0_fits_320_without_enlarging(
    source: tuple[int, int], canvas: tuple[int, int]
) -> None:
    assert thumbnail(source, (0, 0)).canvas == canvas


def test_sides_under_80_are_raised() -> None:
    assert thumbnail((1000, 1000), (10, 50)).canvas == (80, 80)
    assert preview((1000, 1000), (100, 20)).canvas == (100, 80)


@pytest.mark.parametrize(
    ("source", "requested", "canvas"),
    [
        ((20, 20), (0, 0), (40, 40)),
        ((20, 20), (30, 30), (40, 40)),
        ((20, 20), (500, 500), (40, 40)),
        ((50, 30), (500, 500), (60, 60)),  # doubled to 100x60, cut to the box's shape
        ((1000, 60), (320, 320), (120, 120)),
    ],
)
def test_small_originals_are_at_most_doubled(
    source: tuple[int, int], requested: tuple[int, int], canvas: tuple[int, int]
) -> None:
    assert thumbnail(source, requested).canvas == canvas


def test_small_original_in_a_large_preview_box_shrinks_the_box() -> None:
    layout = preview((50, 30), (500, 500))

    assert layout.content == (100, 60)
    assert layout.canvas == (100, 100)
    assert layout.offset == (0, 20)


def test_large_boxes_are_scaled_down_to_the_pixel_bound() -> None:
    layout = plan((4000, 3000), (8000, 8000), thumbnail=True, fit=Fit.COVER, max_pixels=1_000_000)

    assert layout.canvas == (1000, 1000)


def test_derived_sides_stay_within_the_dimension_bound() -> None:
    layout = preview((100, 10_000), (8000, 0))

    assert layout.canvas[1] == 8192
    assert layout.canvas[0] == 81


def test_a_source_without_area_is_refused() -> None:
    with pytest.raises(BadRequest):
        preview((0, 100), (100, 100))
