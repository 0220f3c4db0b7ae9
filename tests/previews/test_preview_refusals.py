"""Who may preview what, and what cannot be previewed (behaviour.md#previews steps 1-5,
DECISIONS.md#previews): every refusal is a clear 4xx, a failing previewer a 424, never a 5xx."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api
from tests.previews.conftest import PATH, Room, Samples, another_app, store_file
from tests.support.errors import assert_error
from tests.support.rooms import assert_json
from wschats.adapters.preview import InProcessPreviewer
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.container import Container
from wschats.domain.files import blob_key, preview_prefix
from wschats.domain.model import FileType

# One URL per endpoint, for a file id.
ENDPOINTS = [
    "{path}/image/{id}/0x0/",
    "{path}/image/{id}/0x0/thumbnail/",
    "{path}/pdf/{id}/",
    "{path}/pdf/{id}/0x0/thumbnail/",
]


def urls(file_id: object) -> list[str]:
    return [url.format(path=PATH, id=file_id) for url in ENDPOINTS]


async def test_anonymous_caller_is_unauthorized(api: Api, room: Room, samples: Samples) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    for url in urls(file_id):
        assert_error(await api.get(url), 401)


async def test_unknown_and_malformed_file_ids_are_not_found(api: Api, room: Room) -> None:
    for url in urls(uuid.uuid4()) + urls("not-a-uuid"):
        assert_error(await api.get(url, room.alice), 404)


async def test_caller_outside_the_room_is_forbidden(api: Api, room: Room, samples: Samples) -> None:
    image = await room.store(samples.photo_jpeg, "image/jpeg")
    pdf = await room.store(samples.five_page_pdf, "application/pdf")
    for url in urls(image)[:2] + urls(pdf)[2:]:
        assert_error(await api.get(url, room.dave), 403)


async def test_a_channels_file_is_for_its_workspace_members(
    api: Api, room: Room, samples: Samples, adapters: Adapters
) -> None:
    """Channels have no members of their own: their workspace's members may preview a file
    of the channel (its picture), anyone else gets 403."""
    workspace = assert_json(
        await api.post(
            "/rooms", room.alice, json_body={"type": "workspace", "name": "w",
                                             "membersIds": [str(room.bob.id), str(room.carol.id)]}
        ),
        201,
    )  # fmt: skip
    channel = assert_json(
        await api.post(
            "/rooms", room.alice,
            json_body={"type": "channel", "name": "c", "parentId": workspace["id"]},
        ),
        201,
    )  # fmt: skip
    picture = await store_file(
        adapters,
        samples.photo_jpeg,
        "image/jpeg",
        room_id=uuid.UUID(channel["id"]),
        user=room.alice,
        file_type=FileType.ROOM_AVATAR,
    )
    url = urls(picture)[1]
    for member in (room.alice, room.bob, room.carol):
        response = await api.get(url, member)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
    assert_error(await api.get(url, room.dave), 403)


async def test_file_in_no_room_is_not_found(
    api: Api, room: Room, samples: Samples, adapters: Adapters
) -> None:
    """A user's picture belongs to no room; nobody can preview it through these endpoints."""
    avatar = await store_file(
        adapters,
        samples.photo_jpeg,
        "image/jpeg",
        room_id=None,
        user=room.alice,
        file_type=FileType.USER_AVATAR,
    )
    for url in urls(avatar):
        assert_error(await api.get(url, room.alice), 404)


async def test_mime_type_decides_between_image_and_pdf(
    api: Api, room: Room, samples: Samples
) -> None:
    image = await room.store(samples.photo_jpeg, "image/jpeg")
    pdf = await room.store(samples.five_page_pdf, "application/pdf")
    text = await room.store(b"just some words\n", "text/plain")
    unknown = await room.store(samples.photo_jpeg, "")
    for url in urls(image)[2:]:
        assert_error(await api.get(url, room.bob), 400, "not a PDF")
    for url in urls(pdf)[:2]:
        assert_error(await api.get(url, room.bob), 400, "not an image")
    for file_id in (text, unknown):
        for url in urls(file_id):
            assert_error(await api.get(url, room.bob), 400, "not")


@pytest.mark.parametrize(
    ("sample", "mime_type"),
    [
        ("random", "image/png"),
        ("random", "image/jpeg"),
        ("bomb_png", "image/png"),
        ("truncated_jpeg", "image/jpeg"),
        ("five_page_pdf", "image/png"),  # a PDF declared as a picture
    ],
)
async def test_undecodable_images_are_bad_requests(
    api: Api,
    room: Room,
    samples: Samples,
    sample: str,
    mime_type: str,
    container: Container,
    adapters: Adapters,
) -> None:
    file_id = await room.store(getattr(samples, sample), mime_type)
    for url in urls(file_id)[:2]:
        assert_error(await api.get(url, room.bob), 400)
    await container.previews.settle()
    assert [key async for key in adapters.blobs.keys(preview_prefix(file_id))] == []


@pytest.mark.parametrize(
    ("sample", "word"),
    [
        ("truncated_pdf", ""),
        ("encrypted_pdf", "password"),
        ("random", ""),
        ("photo_jpeg", ""),  # a picture declared as a PDF
    ],
)
async def test_unreadable_pdfs_are_bad_requests(
    api: Api, room: Room, samples: Samples, sample: str, word: str
) -> None:
    file_id = await room.store(getattr(samples, sample), "application/pdf")
    for url in urls(file_id)[2:]:
        assert_error(await api.get(url, room.bob), 400, word)


async def test_file_whose_bytes_are_gone_is_not_found(
    api: Api, room: Room, samples: Samples, adapters: Adapters
) -> None:
    file_id = await room.store(samples.photo_jpeg, "image/jpeg")
    await adapters.blobs.delete(blob_key(file_id))
    assert_error(await api.get(urls(file_id)[1], room.bob), 404)


async def test_previewer_failure_is_a_failed_dependency(
    api: Api, room: Room, samples: Samples, settings: Settings, adapters: Adapters
) -> None:
    """A real previewer given no time to work: its failure is 424, and nothing is cached."""
    file_id = await room.store(samples.camera_jpeg, "image/jpeg")
    hurried = InProcessPreviewer(workers=1, timeout_seconds=0.001)
    try:
        async with another_app(settings, previewer=hurried) as (hurried_api, _):
            assert_error(await hurried_api.get(urls(file_id)[1], room.bob), 424)
    finally:
        await hurried.close()
    assert [key async for key in adapters.blobs.keys(preview_prefix(file_id))] == []
    # The app's own previewer still serves the same request.
    response = await api.get(urls(file_id)[1], room.bob)
    assert response.status_code == 200
