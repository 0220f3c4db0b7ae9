"""Room and user pictures are stored re-encoded (issue 14): at most 1,024 px on the long side
by default (WSC_PICTURE_MAX_SIDE_PX), upright, without metadata, decoded whole (a truncated
file is refused with 400), as JPEG, PNG or WebP.

The settings of this folder cap room pictures at 64 KiB and user pictures at 32 KiB.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Api, Users
from tests.files.support import Stored, decoded, upload_headers
from tests.metadata import SECRET, SOURCES, metadata_blocks, swapped_profile
from tests.support.rooms import new_group


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_cut_after(rows: int, size: tuple[int, int]) -> bytes:
    """A greyscale PNG whose header declares `size` but whose (well-formed, closed) image
    data holds only its first `rows` rows: a file cut short and closed again."""
    width, height = size
    data = b"".join(b"\x00" + bytes(width) for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(data, 9))
        + _chunk(b"IEND", b"")
    )


def encoded(picture: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


async def put_picture(api: Api, user: Any, path: str, data: bytes, mime: str) -> Any:
    return await api.put(path, user, content=data, headers=upload_headers("p", mime))


async def test_a_huge_picture_is_stored_at_the_bounded_size(
    api: Api, users: Users, stored: Stored
) -> None:
    me = await users.new()
    # The picture: a few KB of PNG declaring 49 megapixels (under the pixel cap).
    huge = encoded(Image.new("1", (7000, 7000), 1), "PNG", optimize=True)
    assert len(huge) < 32 * 1024
    response = await put_picture(api, me, f"/users/{me.id}/picture", huge, "image/png")
    assert response.status_code == 204, response.text
    served = await api.get(f"/users/{me.id}/picture", me)
    assert served.headers["content-type"] == "image/png"
    assert decoded(served.content) == ("PNG", (1024, 1024))
    keys = await stored.keys()
    assert len(keys) == 1 and await stored.read(keys[0]) == served.content

    # The aspect ratio is kept; the long side may be the height.
    tall = encoded(Image.new("RGB", (1500, 3000), (10, 90, 200)), "WEBP")
    room = await new_group(api, me, await users.new(), await users.new())
    path = f"/rooms/{room['id']}/picture"
    assert (await put_picture(api, me, path, tall, "image/webp")).status_code == 204
    served = await api.get(path, me)
    assert decoded(served.content) == ("WEBP", (512, 1024))


async def test_a_truncated_picture_is_refused(api: Api, users: Users, stored: Stored) -> None:
    me = await users.new()
    cut = png_cut_after(64, (7000, 7000))
    response = await put_picture(api, me, f"/users/{me.id}/picture", cut, "image/png")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "the picture is truncated: its image data holds only 64 of its 7000 rows"
    )
    # Cut bytes of any format: refused as well.
    whole = encoded(Image.radial_gradient("L").resize((300, 300)).convert("RGB"), "JPEG")
    for data, mime in ((whole[: len(whole) // 2], "image/jpeg"), (cut[:-20], "image/png")):
        response = await put_picture(api, me, f"/users/{me.id}/picture", data, mime)
        assert response.status_code == 400, mime
        assert response.json()["message"].startswith("the picture"), response.text
    assert await stored.keys() == []
    assert (await api.get(f"/users/{me.id}/picture", me)).status_code == 404
    # The whole picture is accepted.
    assert (
        await put_picture(
            api, me, f"/users/{me.id}/picture", png_cut_after(64, (70, 64)), "image/png"
        )
    ).status_code == 204


@pytest.mark.parametrize("source", sorted(SOURCES))
async def test_a_stored_picture_has_no_metadata(api: Api, users: Users, source: str) -> None:
    me = await users.new()
    data = SOURCES[source]()
    assert metadata_blocks(data) and SECRET in data
    response = await put_picture(api, me, f"/users/{me.id}/picture", data, f"image/{source}")
    assert response.status_code == 204, response.text
    served = (await api.get(f"/users/{me.id}/picture", me)).content
    assert metadata_blocks(served) == []
    assert SECRET not in served
    assert Image.open(io.BytesIO(served)).getexif() == {}


async def test_stored_types_orientation_and_colours(api: Api, users: Users) -> None:
    me = await users.new()
    path = f"/users/{me.id}/picture"

    async def stored_as(data: bytes) -> tuple[str, Image.Image]:
        response = await put_picture(api, me, path, data, "image/png")
        assert response.status_code == 204, response.text
        served = await api.get(path, me)
        return served.headers["content-type"], Image.open(io.BytesIO(served.content))

    # EXIF orientation 6: stored landscape 60x30, shown (and now stored) portrait 30x60.
    exif = Image.Exif()
    exif[0x0112] = 6
    mime, picture = await stored_as(encoded(Image.new("RGB", (60, 30)), "JPEG", exif=exif))
    assert (mime, picture.format, picture.size) == ("image/jpeg", "JPEG", (30, 60))

    # Transparency is kept in PNG and WebP; a GIF becomes a PNG.
    clear = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    for fmt, expected in (("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/png")):
        mime, picture = await stored_as(encoded(clear, fmt))
        assert mime == expected, fmt
        assert picture.convert("RGBA").getpixel((5, 5))[3] == 0, fmt  # type: ignore[index]

    # An animated GIF: its first frame, as a still picture.
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    animated = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    mime, picture = await stored_as(animated)
    assert mime == "image/png" and not getattr(picture, "is_animated", False)
    red, _, blue = picture.convert("RGB").getpixel((16, 16))  # type: ignore[misc]
    assert red > 200 > blue

    # A colour profile is applied, then dropped: red samples of a profile whose red
    # primary is green are stored green.
    profiled = encoded(
        Image.new("RGB", (40, 40), (220, 20, 20)), "JPEG", icc_profile=swapped_profile()
    )
    mime, picture = await stored_as(profiled)
    red, green, _ = picture.getpixel((20, 20))  # type: ignore[misc]
    assert green > 150 > red
    assert "icc_profile" not in picture.info


async def test_the_longest_side_is_a_setting(
    api_with: Callable[..., Awaitable[Api]], users: Users
) -> None:
    small = await api_with(picture_max_side_px=64)
    me = await users.new()
    data = encoded(Image.new("RGB", (200, 100), (0, 120, 0)), "JPEG")
    assert (
        await put_picture(small, me, f"/users/{me.id}/picture", data, "image/png")
    ).status_code == 204
    served = await small.get(f"/users/{me.id}/picture", me)
    assert decoded(served.content) == ("JPEG", (64, 32))


async def test_the_upload_limit_still_applies_to_the_upload(api: Api, users: Users) -> None:
    """A picture over the limit (32 KiB for users here) is refused even though its
    re-encoded version would be far smaller."""
    me = await users.new()
    noisy = Image.effect_noise((256, 256), 100).convert("RGB")
    data = encoded(noisy, "PNG")
    assert len(data) > 32 * 1024
    response = await put_picture(api, me, f"/users/{me.id}/picture", data, "image/png")
    assert response.status_code == 400
    assert (await api.get(f"/users/{me.id}/picture", me)).status_code == 404
