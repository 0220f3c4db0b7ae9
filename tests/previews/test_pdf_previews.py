"""GET /preview/pdf/{fileId}/ and /preview/pdf/{fileId}/{area}/thumbnail (behaviour.md#previews,
DECISIONS.md#previews): page ranges and first-page thumbnails, checked by decoding the output."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.previews.conftest import (
    BLUE,
    PAGE_COLOURS,
    PATH,
    RED,
    Room,
    Samples,
    image_of,
    near,
    page_colours,
    pixel,
)
from tests.support.errors import assert_error


def assert_pages(actual: list[tuple[int, ...]], expected: list[tuple[int, int, int]]) -> None:
    assert len(actual) == len(expected), actual
    for got, wanted in zip(actual, expected, strict=True):
        assert near(got, wanted), (actual, expected)


async def test_web_client_pdf_preview_url_gives_every_page(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.five_page_pdf, "application/pdf")
    response = await api.get(f"{PATH}/pdf/{file_id}/", room.bob)
    assert_pages(page_colours(response), PAGE_COLOURS)
    without_slash = await api.get(f"/preview/pdf/{file_id}", room.bob)
    assert_pages(page_colours(without_slash), PAGE_COLOURS)


@pytest.mark.parametrize(
    ("query", "pages"),
    [
        ("firstPage=2&lastPage=4", [1, 2, 3]),
        ("firstPage=3", [2, 3, 4]),
        ("firstPage=4&lastPage=0", [3, 4]),
        ("lastPage=1", [0]),
        ("firstPage=5&lastPage=5", [4]),
        ("firstPage=1&lastPage=5", [0, 1, 2, 3, 4]),
    ],
)
async def test_page_ranges(
    api: Api, room: Room, samples: Samples, query: str, pages: list[int]
) -> None:
    file_id = await room.store(samples.five_page_pdf, "application/pdf")
    response = await api.get(f"{PATH}/pdf/{file_id}/?{query}", room.carol)
    assert_pages(page_colours(response), [PAGE_COLOURS[i] for i in pages])


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("firstPage=0", "firstPage"),
        ("firstPage=-2", "firstPage"),
        ("lastPage=-1", "lastPage"),
        ("firstPage=3&lastPage=2", "after"),
        ("firstPage=6", "page"),
        ("lastPage=6", "page"),
        ("firstPage=6&lastPage=9", "page"),
        ("firstPage=x", "number"),
        ("firstPage=1.5", "number"),
        ("lastPage=", "number"),
        ("lastPage=99999999999999999999", "number"),
    ],
)
async def test_bad_page_ranges_are_refused(
    api: Api, room: Room, samples: Samples, query: str, word: str
) -> None:
    file_id = await room.store(samples.five_page_pdf, "application/pdf")
    assert_error(await api.get(f"{PATH}/pdf/{file_id}/?{query}", room.bob), 400, word)


async def test_web_client_pdf_thumbnail_url(api: Api, room: Room, samples: Samples) -> None:
    """Page 1 as a JPEG; 0x0 is the page's size in points fitted inside 320x320."""
    file_id = await room.store(samples.letterhead_pdf, "application/pdf")
    response = await api.get(f"{PATH}/pdf/{file_id}/0x0/thumbnail/?quality=Low", room.bob)
    image = image_of(response, "JPEG")
    assert image.size == (200, 300)
    assert near(pixel(image, (100, 20)), RED)
    assert near(pixel(image, (100, 280)), BLUE)


async def test_pdf_thumbnail_is_cut_from_the_top_of_page_one(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.five_page_pdf, "application/pdf")
    response = await api.get(f"{PATH}/pdf/{file_id}/100x100/thumbnail", room.bob)
    image = image_of(response, "JPEG")
    assert image.size == (100, 100)
    assert near(pixel(image, (50, 50)), PAGE_COLOURS[0])

    letterhead = await room.store(samples.letterhead_pdf, "application/pdf")
    # The square's side is the page's width, so the square is the red top third and more.
    top = image_of(await api.get(f"{PATH}/pdf/{letterhead}/200x200/thumbnail", room.bob), "JPEG")
    assert near(pixel(top, (100, 10)), RED)
    assert near(pixel(top, (100, 190)), BLUE)


async def test_pdf_thumbnail_formats_and_shape(api: Api, room: Room, samples: Samples) -> None:
    file_id = await room.store(samples.letterhead_pdf, "application/pdf")
    response = await api.get(
        f"{PATH}/pdf/{file_id}/120x120/thumbnail/?output_format=png&shape=ROUNDED", room.bob
    )
    image = image_of(response, "PNG").convert("RGBA")
    assert image.size == (120, 120)
    assert pixel(image, (0, 0))[3] == 0
    assert pixel(image, (60, 30))[3] == 255
    webp = await api.get(f"{PATH}/pdf/{file_id}/120x0/thumbnail/?output_format=Webp", room.bob)
    assert image_of(webp, "WEBP").size == (120, 180)


@pytest.mark.parametrize(
    ("area", "query"), [("abc", ""), ("99999x99999", ""), ("10x10", "shape=Star")]
)
async def test_pdf_thumbnail_bad_parameters(
    api: Api, room: Room, samples: Samples, area: str, query: str
) -> None:
    file_id = await room.store(samples.letterhead_pdf, "application/pdf")
    response = await api.get(f"{PATH}/pdf/{file_id}/{area}/thumbnail?{query}", room.bob)
    assert_error(response, 400)
