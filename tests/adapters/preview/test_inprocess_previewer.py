"""InProcessPreviewer against real images and PDFs, through its real process pool.

Every output is decoded again and checked as a client would see it.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import signal
from pathlib import Path

import psutil
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from PIL import Image

from wschats.adapters.preview.inprocess import InProcessPreviewer
from wschats.domain.errors import BadRequest, Dependency, DependencyFailed
from wschats.domain.previews import (
    OutputFormat,
    PreviewKind,
    PreviewRequest,
    Quality,
    Rendered,
    Shape,
)

PREVIEW = PreviewKind.IMAGE_PREVIEW
THUMBNAIL = PreviewKind.IMAGE_THUMBNAIL
RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
# The colours of the pages of the `five_page_pdf` fixture (conftest.py), in order.
PAGE_COLOURS = ["red", "green", "blue", "yellow", "black"]


def decoded(rendered: Rendered) -> Image.Image:
    image = Image.open(io.BytesIO(rendered.content))
    image.load()
    return image


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    r, g, b = image.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return (r, g, b)


def alpha(image: Image.Image, xy: tuple[int, int]) -> int:
    value = image.convert("RGBA").getpixel(xy)
    assert isinstance(value, tuple)
    return int(value[3])


def pdf_pages(rendered: Rendered) -> list[str]:
    """The name of the colour at the middle of each page."""
    document = pdfium.PdfDocument(rendered.content)
    try:
        colours = []
        for index in range(len(document)):
            picture = document[index].render(scale=0.2).to_pil()
            colours.append(colour_name(rgb(picture, (picture.width // 2, picture.height // 2))))
        return colours
    finally:
        document.close()


COLOUR_VALUES = {
    "red": RED,
    "green": (0, 128, 0),
    "blue": BLUE,
    "yellow": (255, 255, 0),
    "black": (0, 0, 0),
}


def colour_name(value: tuple[int, int, int]) -> str:
    names = [name for name, named in COLOUR_VALUES.items() if near(value, named)]
    return names[0] if names else repr(value)


# ---------------------------------------------------------------- images: geometry


async def test_thumbnail_is_cut_from_the_upright_picture(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    result = await previewer.render(PreviewRequest(THUMBNAIL, 256, 256), big_rotated_jpeg)

    image = decoded(result)
    assert result.mime_type == "image/jpeg"
    assert image.format == "JPEG"
    assert image.size == (256, 256)
    # Upright the picture is red above blue; stored sideways it was red left of blue.
    assert near(rgb(image, (64, 10)), RED)
    assert near(rgb(image, (192, 10)), RED)
    assert near(rgb(image, (64, 245)), BLUE)
    assert near(rgb(image, (192, 245)), BLUE)


async def test_preview_of_0x0_is_the_upright_original_size(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    image = decoded(await previewer.render(PreviewRequest(PREVIEW), big_rotated_jpeg))

    assert image.size == (3000, 4000)
    assert near(rgb(image, (1500, 10)), RED)
    assert near(rgb(image, (1500, 3990)), BLUE)


async def test_one_zero_dimension_is_derived_from_the_aspect_ratio(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    by_width = decoded(await previewer.render(PreviewRequest(PREVIEW, 300, 0), big_rotated_jpeg))
    by_height = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 0, 200), big_rotated_jpeg))

    assert by_width.size == (300, 400)
    assert by_height.size == (150, 200)


async def test_thumbnail_of_0x0_fits_the_default_box(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path, webp: Path
) -> None:
    big = decoded(await previewer.render(PreviewRequest(THUMBNAIL), big_rotated_jpeg))
    small = decoded(await previewer.render(PreviewRequest(THUMBNAIL), webp))

    assert big.size == (240, 320)
    assert small.size == (300, 150)  # the box is an upper bound: nothing is enlarged


async def test_preview_without_crop_is_letterboxed_transparent_in_png(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    request = PreviewRequest(PREVIEW, 300, 300, output_format=OutputFormat.PNG)
    result = await previewer.render(request, big_rotated_jpeg)

    image = decoded(result)
    assert result.mime_type == "image/png"
    assert image.format == "PNG"
    assert image.size == (300, 300)
    # The 225x300 picture sits in the middle; the side bands are padding.
    assert alpha(image, (5, 150)) == 0
    assert alpha(image, (294, 150)) == 0
    assert alpha(image, (150, 5)) == 255
    assert near(rgb(image, (150, 5)), RED)


async def test_preview_without_crop_is_letterboxed_white_in_jpeg(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    request = PreviewRequest(PREVIEW, 300, 300, output_format=OutputFormat.JPEG)
    image = decoded(await previewer.render(request, big_rotated_jpeg))

    assert image.size == (300, 300)
    assert near(rgb(image, (5, 150)), WHITE)
    assert near(rgb(image, (150, 5)), RED)


async def test_preview_with_crop_fills_the_box(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    request = PreviewRequest(PREVIEW, 300, 300, crop=True, output_format=OutputFormat.PNG)
    image = decoded(await previewer.render(request, big_rotated_jpeg))

    assert image.size == (300, 300)
    assert alpha(image, (2, 150)) == 255
    assert near(rgb(image, (2, 5)), RED)
    assert near(rgb(image, (2, 295)), BLUE)


async def test_small_sizes_are_raised_to_80(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    image = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 30, 50), big_rotated_jpeg))

    assert image.size == (80, 80)


async def test_tiny_original_is_not_stretched_more_than_twice(
    previewer: InProcessPreviewer, tiny_png: Path
) -> None:
    original = decoded(await previewer.render(PreviewRequest(PREVIEW), tiny_png))
    thumbnail = decoded(await previewer.render(PreviewRequest(THUMBNAIL), tiny_png))
    small_box = decoded(await previewer.render(PreviewRequest(PREVIEW, 50, 50), tiny_png))
    large_box = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 200, 100), tiny_png))

    # 20x20 raised towards 80 but at most doubled: the box shrinks, keeping its shape.
    assert original.size == (40, 40)
    assert thumbnail.size == (40, 40)
    assert small_box.size == (40, 40)
    assert large_box.size == (40, 20)
    assert near(rgb(large_box, (20, 10)), RED)


# ---------------------------------------------------------------- images: formats and modes


async def test_palette_image_is_resampled_smoothly(
    previewer: InProcessPreviewer, palette_png: Path
) -> None:
    image = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 100, 100), palette_png))

    assert image.size == (100, 100)
    assert image.mode == "RGB"
    # A black/white checkerboard averages to grey; nearest-neighbour would keep 0 or 255.
    for xy in [(10, 10), (50, 50), (90, 30)]:
        assert all(90 <= channel <= 170 for channel in rgb(image, xy)), rgb(image, xy)


async def test_png_keeps_its_format_and_alpha(
    previewer: InProcessPreviewer, rgba_png: Path
) -> None:
    result = await previewer.render(PreviewRequest(PREVIEW, 200, 100), rgba_png)

    image = decoded(result)
    assert result.mime_type == "image/png"
    assert image.size == (200, 100)
    assert alpha(image, (50, 50)) == 255
    assert near(rgb(image, (50, 50)), (0, 200, 0))
    assert alpha(image, (150, 50)) == 0


async def test_transparency_becomes_white_in_jpeg(
    previewer: InProcessPreviewer, rgba_png: Path
) -> None:
    request = PreviewRequest(PREVIEW, 200, 100, output_format=OutputFormat.JPEG)
    image = decoded(await previewer.render(request, rgba_png))

    assert image.format == "JPEG"
    assert near(rgb(image, (150, 50)), WHITE)
    assert near(rgb(image, (50, 50)), (0, 200, 0))


@pytest.mark.parametrize(
    ("fixture", "pillow_format", "mime_type"),
    [
        ("gif", "GIF", "image/gif"),
        ("webp", "WEBP", "image/webp"),
        ("palette_png", "PNG", "image/png"),
        ("noisy_jpeg", "JPEG", "image/jpeg"),
        ("bmp", "JPEG", "image/jpeg"),
        ("tiff", "JPEG", "image/jpeg"),
    ],
)
async def test_output_format_defaults_to_the_source_format_or_jpeg(
    previewer: InProcessPreviewer,
    request: pytest.FixtureRequest,
    fixture: str,
    pillow_format: str,
    mime_type: str,
) -> None:
    source: Path = request.getfixturevalue(fixture)
    result = await previewer.render(PreviewRequest(THUMBNAIL, 100, 100), source)

    image = decoded(result)
    assert result.mime_type == mime_type
    assert image.format == pillow_format
    assert image.size == (100, 100)


@pytest.mark.parametrize("output", list(OutputFormat))
async def test_requested_output_format_is_used(
    previewer: InProcessPreviewer, webp: Path, output: OutputFormat
) -> None:
    request = PreviewRequest(PREVIEW, 160, 80, output_format=output)
    result = await previewer.render(request, webp)

    image = decoded(result)
    assert result.mime_type == f"image/{output.value}"
    assert image.format == output.value.upper()
    assert image.size == (160, 80)
    assert near(rgb(image, (10, 40)), RED, tolerance=40)
    assert near(rgb(image, (150, 40)), BLUE, tolerance=40)


async def test_cmyk_and_16_bit_sources_come_out_as_rgb(
    previewer: InProcessPreviewer, cmyk_jpeg: Path, grey16_png: Path
) -> None:
    cmyk = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 100, 100), cmyk_jpeg))
    grey = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 100, 100), grey16_png))

    assert cmyk.mode == "RGB"
    assert near(rgb(cmyk, (50, 50)), RED, tolerance=30)
    assert grey.mode == "RGB"
    assert near(rgb(grey, (50, 50)), (128, 128, 128), tolerance=3)


@pytest.mark.parametrize("output", [OutputFormat.JPEG, OutputFormat.WEBP])
async def test_quality_changes_the_encoding(
    previewer: InProcessPreviewer, noisy_jpeg: Path, output: OutputFormat
) -> None:
    sizes = {}
    for quality in (Quality.LOWEST, Quality.MEDIUM, Quality.HIGHEST):
        request = PreviewRequest(PREVIEW, 300, 200, quality=quality, output_format=output)
        result = await previewer.render(request, noisy_jpeg)
        assert decoded(result).size == (300, 200)
        sizes[quality] = len(result.content)

    assert sizes[Quality.LOWEST] < sizes[Quality.MEDIUM] < sizes[Quality.HIGHEST]


# ---------------------------------------------------------------- images: rounded shape


@pytest.mark.parametrize("output", [OutputFormat.PNG, OutputFormat.WEBP, OutputFormat.GIF])
async def test_rounded_thumbnail_has_transparent_corners(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path, output: OutputFormat
) -> None:
    request = PreviewRequest(THUMBNAIL, 128, 128, shape=Shape.ROUNDED, output_format=output)
    image = decoded(await previewer.render(request, big_rotated_jpeg))

    assert image.format == output.value.upper()
    assert image.size == (128, 128)
    for corner in [(0, 0), (127, 0), (0, 127), (127, 127), (10, 10)]:
        assert alpha(image, corner) == 0, corner
    for inside in [(64, 64), (64, 3), (3, 64), (120, 64)]:
        assert alpha(image, inside) == 255, inside
    assert near(rgb(image, (64, 10)), RED)


async def test_rounded_jpeg_has_white_corners(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    request = PreviewRequest(THUMBNAIL, 128, 128, shape=Shape.ROUNDED)
    image = decoded(await previewer.render(request, big_rotated_jpeg))

    assert image.format == "JPEG"
    assert near(rgb(image, (2, 2)), WHITE)
    assert near(rgb(image, (125, 125)), WHITE)
    assert near(rgb(image, (64, 10)), RED)


# ---------------------------------------------------------------- images: refused input


async def test_decompression_bomb_is_refused_before_decoding(
    previewer: InProcessPreviewer, bomb_png: Path
) -> None:
    with pytest.raises(BadRequest, match="more than the 50000000 pixels allowed"):
        await previewer.render(PreviewRequest(THUMBNAIL, 100, 100), bomb_png)


async def test_pixel_bound_is_configurable(big_rotated_jpeg: Path, noisy_jpeg: Path) -> None:
    strict = InProcessPreviewer(workers=1, max_pixels=1_000_000, timeout_seconds=60)
    try:
        with pytest.raises(BadRequest, match="more than the 1000000 pixels allowed"):
            await strict.render(PreviewRequest(THUMBNAIL, 100, 100), big_rotated_jpeg)
        # 600x400 is within the bound; a 2000x2000 output is not, and is scaled down.
        image = decoded(await strict.render(PreviewRequest(THUMBNAIL, 100, 100), noisy_jpeg))
        assert image.size == (100, 100)
        large = decoded(await strict.render(PreviewRequest(THUMBNAIL, 2000, 2000), noisy_jpeg))
        assert large.size == (1000, 1000)
    finally:
        await strict.close()


@pytest.mark.parametrize("fixture", ["random_bytes", "truncated_jpeg", "five_page_pdf", "bomb_png"])
@pytest.mark.parametrize("kind", [PREVIEW, THUMBNAIL])
async def test_undecodable_images_are_bad_requests(
    previewer: InProcessPreviewer,
    request: pytest.FixtureRequest,
    fixture: str,
    kind: PreviewKind,
) -> None:
    source: Path = request.getfixturevalue(fixture)
    with pytest.raises(BadRequest) as raised:
        await previewer.render(PreviewRequest(kind, 100, 100), source)
    assert raised.value.message


async def test_unsupported_format_names_the_accepted_ones(
    previewer: InProcessPreviewer, random_bytes: Path
) -> None:
    with pytest.raises(BadRequest, match="JPEG, PNG, GIF, WEBP, BMP, TIFF"):
        await previewer.render(PreviewRequest(PREVIEW, 100, 100), random_bytes)


async def test_truncated_jpeg_says_so(previewer: InProcessPreviewer, truncated_jpeg: Path) -> None:
    with pytest.raises(BadRequest, match="truncated"):
        await previewer.render(PreviewRequest(PREVIEW), truncated_jpeg)


# ---------------------------------------------------------------- PDF previews


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (1, 0, PAGE_COLOURS),
        (2, 4, PAGE_COLOURS[1:4]),
        (3, 0, PAGE_COLOURS[2:]),
        (5, 5, PAGE_COLOURS[4:]),
        (1, 5, PAGE_COLOURS),
    ],
)
async def test_pdf_preview_holds_the_requested_pages(
    previewer: InProcessPreviewer,
    five_page_pdf: Path,
    first: int,
    last: int,
    expected: list[str],
) -> None:
    request = PreviewRequest(PreviewKind.PDF_PREVIEW, first_page=first, last_page=last)
    result = await previewer.render(request, five_page_pdf)

    assert result.mime_type == "application/pdf"
    assert result.content.startswith(b"%PDF-")
    assert pdf_pages(result) == expected


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (4, 2, "after the last page"),
        (6, 0, "after the last page"),
        (1, 6, "has 5 pages"),
        (6, 9, "has 5 pages"),
        (0, 3, "numbered from 1"),
        (-1, 0, "numbered from 1"),
        (1, -2, "numbered from 1"),
    ],
)
async def test_pdf_preview_refuses_reversed_or_missing_pages(
    previewer: InProcessPreviewer, five_page_pdf: Path, first: int, last: int, message: str
) -> None:
    request = PreviewRequest(PreviewKind.PDF_PREVIEW, first_page=first, last_page=last)
    with pytest.raises(BadRequest, match=message):
        await previewer.render(request, five_page_pdf)


async def test_pdf_with_only_an_owner_password_is_previewed(
    previewer: InProcessPreviewer, restricted_pdf: Path
) -> None:
    request = PreviewRequest(PreviewKind.PDF_PREVIEW, first_page=2, last_page=3)
    result = await previewer.render(request, restricted_pdf)

    assert pdf_pages(result) == PAGE_COLOURS[1:3]


@pytest.mark.parametrize("kind", [PreviewKind.PDF_PREVIEW, PreviewKind.PDF_THUMBNAIL])
@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("password_pdf", "password"),
        ("half_pdf", "truncated"),
        ("pdf_missing_end", "truncated"),
        ("garbage_pdf", "not a readable PDF"),
        ("random_bytes", "not a PDF"),
        ("big_rotated_jpeg", "not a PDF"),
    ],
)
async def test_unreadable_pdfs_are_bad_requests(
    previewer: InProcessPreviewer,
    request: pytest.FixtureRequest,
    kind: PreviewKind,
    fixture: str,
    message: str,
) -> None:
    source: Path = request.getfixturevalue(fixture)
    with pytest.raises(BadRequest, match=message):
        await previewer.render(PreviewRequest(kind, 100, 100), source)


async def test_the_cut_pdf_would_open_in_pdfium_alone(pdf_missing_end: Path) -> None:
    # Why the end-marker check exists: PDFium rebuilds what it can from a cut file.
    document = pdfium.PdfDocument(str(pdf_missing_end))
    try:
        assert len(document) == 5
    finally:
        document.close()


# ---------------------------------------------------------------- PDF thumbnails


async def test_pdf_thumbnail_keeps_the_top_of_the_first_page(
    previewer: InProcessPreviewer, letterhead_pdf: Path
) -> None:
    request = PreviewRequest(PreviewKind.PDF_THUMBNAIL, 100, 100)
    result = await previewer.render(request, letterhead_pdf)

    image = decoded(result)
    assert result.mime_type == "image/jpeg"
    assert image.size == (100, 100)
    # The 200x300 page scaled to 100x150, then its top 100 rows: 50 red, 50 blue.
    # A centred cut would show only 25 red rows.
    assert near(rgb(image, (50, 40)), RED)
    assert near(rgb(image, (50, 60)), BLUE)


async def test_pdf_thumbnail_renders_page_one_only(
    previewer: InProcessPreviewer, five_page_pdf: Path
) -> None:
    request = PreviewRequest(PreviewKind.PDF_THUMBNAIL, 64, 64, output_format=OutputFormat.PNG)
    image = decoded(await previewer.render(request, five_page_pdf))

    assert image.format == "PNG"
    assert image.size == (80, 80)  # 64 is raised to the minimum of 80
    assert near(rgb(image, (40, 40)), RED)


async def test_pdf_thumbnail_of_0x0_fits_the_default_box(
    previewer: InProcessPreviewer, five_page_pdf: Path
) -> None:
    image = decoded(
        await previewer.render(PreviewRequest(PreviewKind.PDF_THUMBNAIL), five_page_pdf)
    )

    assert image.size == (200, 300)


async def test_large_pdf_thumbnail_is_rendered_at_the_requested_size(
    previewer: InProcessPreviewer, letterhead_pdf: Path
) -> None:
    request = PreviewRequest(PreviewKind.PDF_THUMBNAIL, 2000, 1000)
    image = decoded(await previewer.render(request, letterhead_pdf))

    # The page is 200 pt wide: scaled 10x, its top 100 pt are all that fits: all red.
    assert image.size == (2000, 1000)
    assert near(rgb(image, (1000, 500)), RED)


async def test_rounded_pdf_thumbnail(previewer: InProcessPreviewer, letterhead_pdf: Path) -> None:
    request = PreviewRequest(
        PreviewKind.PDF_THUMBNAIL, 100, 100, shape=Shape.ROUNDED, output_format=OutputFormat.PNG
    )
    image = decoded(await previewer.render(request, letterhead_pdf))

    assert alpha(image, (0, 0)) == 0
    assert alpha(image, (50, 50)) == 255


# ---------------------------------------------------------------- running off the event loop


async def test_event_loop_keeps_running_during_a_big_render(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), big_rotated_jpeg)  # warm pool
    ticks = 0
    rendering = True

    async def tick() -> None:
        nonlocal ticks
        while rendering:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)  # let the ticker start before the render
    ticks = 0
    # Full-size decode and PNG encode of 12 MP: hundreds of milliseconds of CPU.
    request = PreviewRequest(PREVIEW, output_format=OutputFormat.PNG)
    image = decoded(await previewer.render(request, big_rotated_jpeg))
    ticks_during_render = ticks
    rendering = False
    await ticker

    assert image.size == (3000, 4000)
    assert ticks_during_render >= 3


async def test_concurrent_renders_all_complete(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path, webp: Path
) -> None:
    sizes = [(100 + 10 * index, 100) for index in range(6)]
    results = await asyncio.gather(
        *(
            previewer.render(PreviewRequest(THUMBNAIL, w, h), big_rotated_jpeg if w % 20 else webp)
            for w, h in sizes
        )
    )

    assert [decoded(result).size for result in results] == sizes


# ---------------------------------------------------------------- life cycle and failures


async def test_health_and_close(tiny_png: Path) -> None:
    previewer = InProcessPreviewer(workers=1, timeout_seconds=60)
    assert await previewer.health() is True
    image = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), tiny_png))
    assert image.size == (40, 40)

    await previewer.close()

    assert await previewer.health() is False
    with pytest.raises(DependencyFailed) as raised:
        await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), tiny_png)
    assert raised.value.dependency is Dependency.PREVIEWER
    await previewer.close()  # idempotent


async def test_render_over_the_time_limit_fails_and_the_pool_recovers(
    big_rotated_jpeg: Path,
) -> None:
    # Starting a worker process alone takes longer than a millisecond.
    impatient = InProcessPreviewer(workers=1, timeout_seconds=0.001)
    try:
        with pytest.raises(DependencyFailed, match="longer than") as raised:
            await impatient.render(PreviewRequest(PREVIEW), big_rotated_jpeg)
        assert raised.value.dependency is Dependency.PREVIEWER
        assert await impatient.health() is True
    finally:
        await impatient.close()


async def test_worker_killed_mid_render_gives_424_then_recovers(
    big_rotated_jpeg: Path, tiny_png: Path
) -> None:
    before = set(multiprocessing.active_children())
    previewer = InProcessPreviewer(workers=1, timeout_seconds=60)
    try:
        assert await previewer.health() is True
        workers = [
            psutil.Process(child.pid)
            for child in set(multiprocessing.active_children()) - before
            if child.pid is not None
        ]
        assert len(workers) == 1
        worker = workers[0]

        request = PreviewRequest(PREVIEW, output_format=OutputFormat.PNG)
        render = asyncio.create_task(previewer.render(request, big_rotated_jpeg))
        # Kill the worker while it holds the source open, i.e. in the middle of the render.
        for _ in range(2000):
            if any(Path(f.path) == big_rotated_jpeg for f in worker.open_files()):
                worker.send_signal(signal.SIGKILL)
                break
            await asyncio.sleep(0.005)
        else:
            pytest.fail("the worker never opened the source")

        with pytest.raises(DependencyFailed) as raised:
            await render
        assert raised.value.dependency is Dependency.PREVIEWER

        assert await previewer.health() is True
        image = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), tiny_png))
        assert image.size == (40, 40)
    finally:
        await previewer.close()


async def test_worker_killed_while_idle_gives_424_then_recovers(tiny_png: Path) -> None:
    """Once every worker runs, a render is submitted from the event loop itself: a pool
    broken meanwhile refuses it there, and that too is a 424, then a new pool."""
    before = set(multiprocessing.active_children())
    previewer = InProcessPreviewer(workers=1, timeout_seconds=60)
    try:
        assert await previewer.health() is True
        (worker,) = set(multiprocessing.active_children()) - before
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        for _ in range(400):
            if worker.exitcode is not None:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # for the pool's manager thread to see it and mark it broken

        with pytest.raises(DependencyFailed, match="stopped unexpectedly") as raised:
            await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), tiny_png)
        assert raised.value.dependency is Dependency.PREVIEWER

        image = decoded(await previewer.render(PreviewRequest(THUMBNAIL, 80, 80), tiny_png))
        assert image.size == (40, 40)
    finally:
        await previewer.close()


async def test_rendering_processes_run_at_a_lower_priority(
    previewer: InProcessPreviewer, big_rotated_jpeg: Path
) -> None:
    """A burst of renders must leave the CPU to the server process first."""
    await previewer.render(PreviewRequest(THUMBNAIL, 64, 64), big_rotated_jpeg)
    assert os.sched_getscheduler(0) != os.SCHED_IDLE
    workers = [
        child
        for child in psutil.Process().children(recursive=True)
        if os.sched_getscheduler(child.pid) == os.SCHED_IDLE
    ]
    assert workers, "no rendering process runs at the idle scheduling priority"
