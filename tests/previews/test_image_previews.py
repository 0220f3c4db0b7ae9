"""GET /preview/image/{fileId}/{area}/ and .../thumbnail (DECISIONS.md#previews):
sizes, formats, crop, shape and quality, checked by decoding what comes back."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.previews.conftest import BLUE, GREEN, PATH, RED, Room, Samples, image_of, near, pixel
from tests.support.errors import assert_error

WHITE = (255, 255, 255)


async def test_web_client_thumbnail_urls_for_each_format(
    api: Api, room: Room, samples: Samples
) -> None:
    """The exact URLs the web client builds: trailing slash, `0x0`, `Low`, and Webp."""
    cases = [
        (samples.photo_jpeg, "image/jpeg", "Jpeg", "JPEG", (320, 213)),
        (samples.alpha_png, "image/png", "Png", "PNG", (320, 160)),
        (samples.gif, "image/gif", "Gif", "GIF", (200, 100)),
        (samples.webp, "image/webp", "Webp", "WEBP", (300, 150)),
    ]
    for content, mime_type, client_format, pillow_format, size in cases:
        file_id = await room.store(content, mime_type)
        response = await api.get(
            f"{PATH}/image/{file_id}/0x0/thumbnail/"
            f"?quality=Low&output_format={client_format}&shape=Rectangular",
            room.bob,
        )
        # 0x0: the original fitted inside 320x320, never enlarged.
        assert image_of(response, pillow_format).size == size, client_format


async def test_web_client_preview_url_gives_the_original_size(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    response = await api.get(
        f"{PATH}/image/{file_id}/0x0/?quality=High&output_format=Jpeg", room.bob
    )
    image = image_of(response, "JPEG")
    assert image.size == (600, 400)
    assert near(pixel(image, (100, 200)), RED)
    assert near(pixel(image, (500, 200)), BLUE)


async def test_paths_without_slash_and_without_base_path(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    for path in (
        f"{PATH}/image/{file_id}/100x100/thumbnail",
        f"/preview/image/{file_id}/100x100/thumbnail",
        f"/preview/image/{file_id}/100x100/thumbnail/",
    ):
        assert image_of(await api.get(path, room.carol), "JPEG").size == (100, 100), path


async def test_absent_output_format_keeps_the_source_format_or_gives_jpeg(
    api: Api, room: Room, samples: Samples
) -> None:
    cases = [
        (samples.photo_jpeg, "image/jpeg", "JPEG"),
        (samples.alpha_png, "image/png", "PNG"),
        (samples.gif, "image/gif", "GIF"),
        (samples.webp, "image/webp", "WEBP"),
        (samples.bmp, "image/bmp", "JPEG"),
    ]
    for content, mime_type, expected in cases:
        file_id = await room.store(content, mime_type)
        response = await api.get(f"{PATH}/image/{file_id}/120x0/", room.alice)
        image = image_of(response, expected)
        assert image.width == 120, mime_type


async def test_output_format_is_case_insensitive(api: Api, room: Room, samples: Samples) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    for spelling in ("png", "PNG", "Png", "pNg"):
        response = await api.get(
            f"{PATH}/image/{file_id}/120x90/thumbnail?output_format={spelling}", room.bob
        )
        assert image_of(response, "PNG").size == (120, 90), spelling
    response = await api.get(f"{PATH}/image/{file_id}/120x90/?output_format=WEBP", room.bob)
    assert image_of(response, "WEBP").size == (120, 90)


async def test_one_zero_side_follows_the_aspect_ratio(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    wide = await api.get(f"{PATH}/image/{file_id}/300x0/", room.bob)
    assert image_of(wide, "JPEG").size == (300, 200)
    tall = await api.get(f"{PATH}/image/{file_id}/0x100/", room.bob)
    assert image_of(tall, "JPEG").size == (150, 100)


async def test_preview_without_crop_is_padded_and_with_crop_is_filled(
    api: Api, room: Room, samples: Samples
) -> None:
    """600x400 into 200x200: fitted 200x133 on a transparent square, or cut from the middle."""
    file_id = await room.store(samples.alpha_png, "image/png")
    fitted = image_of(await api.get(f"{PATH}/image/{file_id}/200x200/", room.bob), "PNG")
    assert fitted.size == (200, 200)
    rgba = fitted.convert("RGBA")
    assert pixel(rgba, (50, 5))[3] == 0  # padding above the picture
    assert pixel(rgba, (50, 100)) == (*GREEN, 255)

    photo = await room.store(samples.photo_jpeg, "image/jpeg")
    padded = image_of(await api.get(f"{PATH}/image/{photo}/200x200/?crop=false", room.bob), "JPEG")
    assert near(pixel(padded, (100, 5)), WHITE)  # JPEG pads with white
    cropped = image_of(await api.get(f"{PATH}/image/{photo}/200x200/?crop=TRUE", room.bob), "JPEG")
    assert cropped.size == (200, 200)
    assert near(pixel(cropped, (40, 5)), RED)
    assert near(pixel(cropped, (160, 195)), BLUE)


async def test_rounded_thumbnail_has_transparent_corners(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    for fmt, pillow_format in (("Png", "PNG"), ("Webp", "WEBP")):
        response = await api.get(
            f"{PATH}/image/{file_id}/160x160/thumbnail/?shape=Rounded&output_format={fmt}",
            room.bob,
        )
        image = image_of(response, pillow_format).convert("RGBA")
        assert image.size == (160, 160)
        for corner in ((0, 0), (159, 0), (0, 159), (159, 159), (10, 10)):
            assert pixel(image, corner)[3] == 0, (fmt, corner)
        assert pixel(image, (40, 80))[3] == 255
        assert near(pixel(image, (40, 80))[:3], RED)
    rectangular = await api.get(
        f"{PATH}/image/{file_id}/160x160/thumbnail/?shape=rectangular&output_format=png", room.bob
    )
    assert pixel(image_of(rectangular, "PNG").convert("RGBA"), (0, 0))[3] == 255


async def test_quality_changes_the_encoding(api: Api, room: Room, samples: Samples) -> None:
    file_id = await room.store(samples.camera_jpeg, "image/jpeg")
    sizes = {}
    for quality in ("Lowest", "Medium", "Highest"):
        response = await api.get(
            f"{PATH}/image/{file_id}/400x300/?quality={quality}&output_format=Jpeg", room.bob
        )
        assert image_of(response, "JPEG").size == (400, 300)
        sizes[quality] = len(response.content)
    assert sizes["Lowest"] < sizes["Medium"] < sizes["Highest"]


async def test_small_areas_are_raised_to_80(api: Api, room: Room, samples: Samples) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    response = await api.get(f"{PATH}/image/{file_id}/1x1/thumbnail", room.bob)
    assert image_of(response, "JPEG").size == (80, 80)


@pytest.mark.parametrize(
    "area",
    ["abc", "99999x99999", "8193x10", "100X100", "100x", "x100", "-1x5", "1.5x2", "10x10x10"],
)
async def test_malformed_or_absurd_areas_are_refused(
    api: Api, room: Room, samples: Samples, area: str
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    assert_error(await api.get(f"{PATH}/image/{file_id}/{area}/", room.bob), 400, "area")
    assert_error(await api.get(f"{PATH}/image/{file_id}/{area}/thumbnail", room.bob), 400, "area")


@pytest.mark.parametrize(
    ("endpoint", "query", "word"),
    [
        ("", "quality=Ultra", "quality"),
        ("", "quality=", "quality"),
        ("", "output_format=Bmp", "output_format"),
        ("", "output_format=medium", "output_format"),
        ("", "crop=maybe", "crop"),
        ("/thumbnail", "shape=Oval", "shape"),
        ("/thumbnail", "quality=Best", "quality"),
        ("/thumbnail", "output_format=tiff", "output_format"),
    ],
)
async def test_unknown_parameter_values_are_refused(
    api: Api, room: Room, samples: Samples, endpoint: str, query: str, word: str
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    response = await api.get(f"{PATH}/image/{file_id}/100x100{endpoint}/?{query}", room.bob)
    assert_error(response, 400, word)


async def test_areas_larger_than_the_original_enlarge_it(
    api: Api, room: Room, samples: Samples
) -> None:
    file_id = await room.store(samples.gif, "image/gif")
    response = await api.get(f"{PATH}/image/{file_id}/1000x0/thumbnail", room.bob)
    assert image_of(response, "GIF").size == (1000, 500)
