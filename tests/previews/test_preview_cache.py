"""The preview cache (DECISIONS.md#previews, issue 3): results stored under the file's previews,
served again without rendering, shared by equal requests, rendered once for simultaneous
identical requests, and removed with the file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import UUID

import httpx

from tests.conftest import Api
from tests.previews.conftest import (
    PATH,
    CountingPreviewer,
    Room,
    Samples,
    another_app,
    assert_preview,
    image_of,
)
from tests.support.errors import assert_error
from wschats.config import Settings
from wschats.devtools.app import Running
from wschats.domain.files import blob_key, preview_prefix
from wschats.domain.previews import PreviewRequest, Rendered
from wschats.ports import Previewer


async def cached_keys(running: Running, file_id: UUID) -> list[str]:
    """The file's cache entries, once the app's writes in progress are done."""
    await running.services.previews.settle()
    return [key async for key in running.adapters.blobs.keys(preview_prefix(file_id))]


async def stored(running: Running, key: str) -> bytes:
    await running.services.previews.settle()
    return b"".join([chunk async for chunk in running.adapters.blobs.get(key)])


async def test_repeat_is_served_from_the_cache(
    api: Api, room: Room, samples: Samples, running: Running, renders: CountingPreviewer
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    url = f"{PATH}/image/{file_id}/0x0/thumbnail/?quality=Low&output_format=Webp&shape=Rectangular"
    first = await api.get(url, room.bob)
    assert image_of(first, "WEBP").size == (320, 213)
    assert renders.count == 1
    (key,) = await cached_keys(running, file_id)
    assert await stored(running, key) == first.content

    second = await api.get(url, room.carol)
    assert renders.count == 1
    assert second.content == first.content
    assert_preview(second, "image/webp")
    assert {k: v for k, v in second.headers.items() if k != "x-trace-id"} == {
        k: v for k, v in first.headers.items() if k != "x-trace-id"
    }


async def test_cache_hit_still_checks_access(
    api: Api, room: Room, samples: Samples, renders: CountingPreviewer
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    url = f"{PATH}/image/{file_id}/100x100/thumbnail"
    assert (await api.get(url, room.bob)).status_code == 200
    assert_error(await api.get(url, room.dave), 403)
    assert_error(await api.get(url), 401)
    assert renders.count == 1


async def test_equal_requests_share_one_entry(
    api: Api, room: Room, samples: Samples, running: Running, renders: CountingPreviewer
) -> None:
    """Spelling, defaults, the trailing slash, the base path and parameters that change
    nothing (quality of a PNG, crop of a thumbnail) do not make a request different."""
    image = await room.store(samples.photo_jpeg, "image/jpeg")
    for url in (
        f"{PATH}/image/{image}/200x100/thumbnail/?quality=Low",
        f"{PATH}/image/{image}/200x100/thumbnail?quality=low&shape=Rectangular",
        f"/preview/image/{image}/200x100/thumbnail?quality=LOW&crop=true",
    ):
        assert image_of(await api.get(url, room.bob), "JPEG").size == (200, 100), url
    for url in (
        f"{PATH}/image/{image}/200x100/?output_format=Png&quality=Lowest",
        f"{PATH}/image/{image}/200x100/?output_format=png&quality=Highest&crop=false",
        f"{PATH}/image/{image}/200x100/?output_format=PNG",
    ):
        assert image_of(await api.get(url, room.bob), "PNG").size == (200, 100), url
    pdf = await room.store(samples.five_page_pdf, "application/pdf")
    for url in (
        f"{PATH}/pdf/{pdf}/0x0/thumbnail/?quality=Low",
        f"{PATH}/pdf/{pdf}/0x0/thumbnail/?quality=Low&output_format=Jpeg",
    ):
        assert image_of(await api.get(url, room.bob), "JPEG").size == (200, 300), url
    for url in (f"{PATH}/pdf/{pdf}/", f"{PATH}/pdf/{pdf}/?firstPage=1", f"/preview/pdf/{pdf}"):
        assert_preview(await api.get(url, room.bob), "application/pdf")
    assert renders.count == 4
    assert len(await cached_keys(running, image)) == 2
    assert len(await cached_keys(running, pdf)) == 2


async def test_different_requests_get_their_own_entries(
    api: Api, room: Room, samples: Samples, running: Running, renders: CountingPreviewer
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    contents = set()
    for query in (
        "100x100/thumbnail",
        "100x100/thumbnail?shape=Rounded&output_format=Png",
        "100x100/",
        "100x80/?crop=true",
        "100x100/?quality=High",
        "120x100/",
    ):
        response = await api.get(f"{PATH}/image/{file_id}/{query}", room.bob)
        assert response.status_code == 200, query
        contents.add(response.content)
    assert renders.count == 6
    assert len(contents) == 6
    assert len(await cached_keys(running, file_id)) == 6


async def test_same_parameters_of_another_file_are_another_entry(
    api: Api, room: Room, samples: Samples, renders: CountingPreviewer
) -> None:
    first = await room.store(samples.photo_jpeg, "image/jpeg")
    second = await room.store(samples.webp, "image/webp")
    one = await api.get(f"{PATH}/image/{first}/0x0/thumbnail", room.bob)
    two = await api.get(f"{PATH}/image/{second}/0x0/thumbnail", room.bob)
    assert image_of(one, "JPEG").size == (320, 213)
    assert image_of(two, "WEBP").size == (300, 150)
    assert renders.count == 2


async def test_simultaneous_identical_requests_render_once(
    api: Api, room: Room, samples: Samples, running: Running, renders: CountingPreviewer
) -> None:
    file_id = await room.store(samples.camera_jpeg, "image/jpeg")
    url = f"{PATH}/image/{file_id}/256x256/thumbnail"
    responses = await asyncio.gather(*(api.get(url, who) for who in [room.bob, room.carol] * 4))
    contents = {image_of(response, "JPEG").tobytes() for response in responses}
    assert len(contents) == 1
    assert renders.count == 1
    assert len(await cached_keys(running, file_id)) == 1


async def test_unreadable_cache_entry_is_rendered_again(
    api: Api, room: Room, samples: Samples, running: Running, renders: CountingPreviewer
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    url = f"{PATH}/image/{file_id}/100x100/"
    good = (await api.get(url, room.bob)).content
    (key,) = await cached_keys(running, file_id)

    async def junk() -> AsyncIterator[bytes]:
        yield b"this is not a picture"

    await running.adapters.blobs.put(key, junk())
    again = await api.get(url, room.bob)
    assert image_of(again, "JPEG").size == (100, 100)
    assert renders.count == 2
    assert await stored(running, key) == again.content == good


async def test_room_deletion_removes_the_file_and_its_previews(
    api: Api, room: Room, samples: Samples, running: Running
) -> None:
    image = await room.store(samples.photo_jpeg, "image/jpeg")
    pdf = await room.store(samples.five_page_pdf, "application/pdf")
    for url in (
        f"{PATH}/image/{image}/0x0/thumbnail/",
        f"{PATH}/image/{image}/0x0/",
        f"{PATH}/pdf/{pdf}/",
        f"{PATH}/pdf/{pdf}/0x0/thumbnail/",
    ):
        assert (await api.get(url, room.bob)).status_code == 200
    assert len(await cached_keys(running, image)) == 2
    assert len(await cached_keys(running, pdf)) == 2

    assert (await api.delete(f"/rooms/{room.id}", room.alice)).status_code == 204

    for file_id in (image, pdf):
        assert await cached_keys(running, file_id) == []
        assert await running.adapters.blobs.size(blob_key(file_id)) is None
    assert_error(await api.get(f"{PATH}/image/{image}/0x0/thumbnail/", room.bob), 404)


async def test_attachment_deletion_removes_its_previews_only(
    api: Api, room: Room, samples: Samples, running: Running
) -> None:
    deleted = await room.store(samples.photo_jpeg, "image/jpeg")
    kept = await room.store(samples.photo_jpeg, "image/jpeg")
    for file_id in (deleted, kept):
        response = await api.get(f"{PATH}/image/{file_id}/0x0/thumbnail/", room.bob)
        assert response.status_code == 200
        assert len(await cached_keys(running, file_id)) == 1

    assert (await api.delete(f"/attachments/{deleted}", room.alice)).status_code == 204

    assert await cached_keys(running, deleted) == []
    assert await running.adapters.blobs.size(blob_key(deleted)) is None
    assert len(await cached_keys(running, kept)) == 1
    assert_error(await api.get(f"{PATH}/image/{deleted}/0x0/thumbnail/", room.bob), 404)


class DeletingPreviewer(CountingPreviewer):
    """Runs `during` (a room deletion) after rendering, before the service stores the result."""

    def __init__(self, inner: Previewer) -> None:
        super().__init__(inner)
        self.during: Callable[[], Awaitable[None]] | None = None

    async def render(self, request: PreviewRequest, source: Path) -> Rendered:
        rendered = await super().render(request, source)
        if self.during is not None:
            await self.during()
        return rendered


async def test_file_deleted_during_a_render_leaves_no_preview_behind(
    room: Room,
    samples: Samples,
    settings: Settings,
    running: Running,
    renders: CountingPreviewer,
) -> None:
    """The deletion's cleanup runs before the render is stored: the entry must not outlive it."""
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    deleting = DeletingPreviewer(renders)
    async with another_app(settings, previewer=deleting) as (api, _):

        async def delete_room() -> None:
            response = await api.delete(f"/rooms/{room.id}", room.alice)
            assert response.status_code == 204

        deleting.during = delete_room
        response = await api.get(f"{PATH}/image/{file_id}/100x100/thumbnail", room.bob)
        # The caller was a member when it asked: it gets what it asked for.
        assert image_of(response, "JPEG").size == (100, 100)
        assert deleting.count == 1
    assert await running.adapters.blobs.size(blob_key(file_id)) is None
    assert await cached_keys(running, file_id) == []


MEMORY = {"preview_memory_cache_mb": 1}  # the folder's app keeps no preview in memory


async def thumbnail_of_a_photo(
    api: Api, room: Room, samples: Samples
) -> tuple[UUID, str, httpx.Response]:
    """A stored photo, its 100x100 thumbnail URL and that thumbnail's first (rendered) answer."""
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    url = f"{PATH}/image/{file_id}/100x100/thumbnail"
    first = await api.get(url, room.bob)
    assert first.status_code == 200
    return file_id, url, first


async def test_a_small_preview_is_also_kept_in_memory(
    room: Room, samples: Samples, settings: Settings, renders: CountingPreviewer
) -> None:
    async with another_app(settings, MEMORY, previewer=renders) as (api, running):
        file_id, url, first = await thumbnail_of_a_photo(api, room, samples)
        (key,) = await cached_keys(running, file_id)
        await running.adapters.blobs.delete(key)  # only memory holds it now

        again = await api.get(url, room.carol)
        assert again.content == first.content
        assert_preview(again, "image/jpeg")
        assert again.headers["content-length"] == str(len(first.content))
        assert renders.count == 1
        assert_error(await api.get(url, room.dave), 403)  # memory is behind the access check


async def test_a_preview_in_memory_is_gone_with_its_file(
    room: Room, samples: Samples, settings: Settings, renders: CountingPreviewer
) -> None:
    async with another_app(settings, MEMORY, previewer=renders) as (api, _):
        file_id, url, _ = await thumbnail_of_a_photo(api, room, samples)

        assert (await api.delete(f"/attachments/{file_id}", room.alice)).status_code == 204

        assert_error(await api.get(url, room.bob), 404)


async def test_a_preview_read_from_storage_is_kept_in_memory(
    api: Api,
    room: Room,
    samples: Samples,
    settings: Settings,
    running: Running,
    renders: CountingPreviewer,
) -> None:
    # Another process rendered it: this one finds it in storage, then keeps it.
    file_id, url, first = await thumbnail_of_a_photo(api, room, samples)
    (key,) = await cached_keys(running, file_id)
    async with another_app(settings, MEMORY, previewer=renders) as (this_one, _):
        assert (await this_one.get(url, room.bob)).content == first.content
        await running.adapters.blobs.delete(key)

        assert (await this_one.get(url, room.carol)).content == first.content
    assert renders.count == 1


async def test_every_preview_route_answers_from_memory_as_it_answered_first(
    room: Room, samples: Samples, settings: Settings, renders: CountingPreviewer
) -> None:
    async with another_app(settings, MEMORY, previewer=renders) as (api, running):
        photo = await room.store(samples.photo_jpeg, "image/jpeg")
        pdf = await room.store(samples.five_page_pdf, "application/pdf")
        # Each route without parameters and with each one alone: a parameter lost on the way
        # would answer the entry without it, also in memory.
        routes = {
            f"{PATH}/image/{photo}/100x100/": ["quality=Low", "crop=true", "output_format=Png"],
            f"{PATH}/image/{photo}/90x90/thumbnail": [
                "shape=Rounded",
                "quality=High",
                "output_format=Webp",
            ],
            f"{PATH}/pdf/{pdf}/": ["firstPage=2", "lastPage=3"],
            f"{PATH}/pdf/{pdf}/100x100/thumbnail/": [
                "shape=Rounded",
                "quality=Low",
                "output_format=Png",
            ],
        }
        urls = [f"{route}?{query}" for route, queries in routes.items() for query in ["", *queries]]
        firsts = [await api.get(url, room.bob) for url in urls]
        assert [first.status_code for first in firsts] == [200] * len(urls)
        assert len({first.content for first in firsts}) == len(urls)
        for file_id in (photo, pdf):
            for key in await cached_keys(running, file_id):
                await running.adapters.blobs.delete(key)  # only memory holds them now

        for url, first in zip(urls, firsts, strict=True):
            again = await api.get(url, room.carol)
            assert again.content == first.content
            assert {k: v for k, v in again.headers.items() if k != "x-trace-id"} == {
                k: v for k, v in first.headers.items() if k != "x-trace-id"
            }
    assert renders.count == len(urls)
