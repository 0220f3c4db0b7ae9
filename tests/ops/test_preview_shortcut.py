"""Previews are answered before routing (api/server/preview_shortcut.py): with the route's answers
and errors, the route's rate limit spent once, and the route's request line and metrics."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from PIL import Image

from tests.ops.conftest import AppFactory, Person, RunningApp, sample
from wschats.api.server.observability import REQUEST_LOGGER

ROUTE = "/preview/image/{fileId}/{area}/thumbnail"


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((640, 480)).save(buffer, "JPEG")
    return buffer.getvalue()


async def stored_photo(running: RunningApp, owner: Person) -> str:
    """A photo uploaded to a new group of `owner`'s: its file id."""
    room_id = await running.group(owner, await running.person(), await running.person())
    response = await running.client.post(
        f"/rooms/{room_id}/attachments",
        content=photo(),
        headers={**owner.auth, "fileName": "p.jpg", "mimeType": "image/jpeg"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_each_preview_spends_one_request_of_the_rate_limit(
    make_app: AppFactory,
) -> None:
    async with make_app(rate_limit_read_per_minute=3) as running:
        alice = await running.person()
        url = f"/preview/image/{await stored_photo(running, alice)}/100x100/thumbnail"
        answers = [await running.client.get(url, headers=alice.auth) for _ in range(4)]

    # The first is rendered, the next two come from memory: one request of the budget each.
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[1].content == answers[2].content == answers[0].content
    refused = answers[3]
    assert refused.headers["content-type"] == "application/json"
    assert set(refused.json()) == {"message", "traceId"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_a_preview_is_logged_and_counted_under_its_route(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_app(metrics=True) as running:
        alice = await running.person()
        url = f"/preview/image/{await stored_photo(running, alice)}/100x100/thumbnail"
        assert (await running.client.get(url, headers=alice.auth)).status_code == 200
        with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
            again = await running.client.get(url, headers=alice.auth)
        metrics = (await running.client.get("/metrics")).text

    assert again.status_code == 200
    (line,) = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    fields = line.__dict__["fields"]  # set through `extra`: unknown to the type checker
    assert fields["route"] == ROUTE
    assert fields["status"] == 200
    assert fields["user"] == str(alice.id)
    assert line.__dict__["traceId"] == again.headers["x-trace-id"]
    labels = {"method": "GET", "route": ROUTE, "status": "200"}
    assert sample(metrics, "wschats_http_requests_total", **labels) == 2
    assert sample(metrics, "wschats_preview_cache_hits_total") == 1


async def test_a_preview_still_needs_a_valid_token(make_app: AppFactory) -> None:
    async with make_app() as running:
        alice = await running.person()
        url = f"/preview/image/{await stored_photo(running, alice)}/100x100/thumbnail"
        assert (await running.client.get(url, headers=alice.auth)).status_code == 200
        anonymous = await running.client.get(url)
        wrong = await running.client.get(url, headers={"Authorization": "Bearer not-a-token"})

    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert set(json.loads(refused.content)) == {"message", "traceId"}


async def test_a_preview_under_the_base_path_with_a_trailing_slash(
    make_app: AppFactory,
) -> None:
    async with make_app(base_path="/services/chats") as running:
        alice = await running.person()
        file_id = await stored_photo(running, alice)
        url = f"/services/chats/preview/image/{file_id}/100x100/thumbnail/?quality=Low"
        first = await running.client.get(url, headers=alice.auth)
        again = await running.client.get(url, headers=alice.auth)
        other_quality = await running.client.get(url.replace("Low", "High"), headers=alice.auth)
        bad_quality = await running.client.get(url.replace("Low", "Best"), headers=alice.auth)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert other_quality.status_code == 200
    assert other_quality.content != first.content  # its own entry, not the Low one
    assert bad_quality.status_code == 400


async def test_the_shortcut_answers_as_the_route_does(make_app: AppFactory) -> None:
    # A file id in braces is valid for the route but left to it by the shortcut: the same
    # requests asked both ways must get the same answers.
    async with make_app() as running:
        alice, outsider = await running.person(), await running.person()
        photo = await stored_photo(running, alice)
        room_id = await running.group(alice, await running.person(), await running.person())
        text = await running.client.post(
            f"/rooms/{room_id}/attachments",
            content=b"just text",
            headers={**alice.auth, "fileName": "t.txt", "mimeType": "text/plain"},
        )
        cases = [
            (photo, alice, "100x100/thumbnail"),  # 200
            (photo, outsider, "100x100/thumbnail"),  # not a member
            (str(uuid.uuid4()), alice, "100x100/thumbnail"),  # no such file
            (str(text.json()["id"]), alice, "100x100/thumbnail"),  # not an image
            (photo, alice, "0x0/thumbnail?shape=Oval"),  # an unknown shape
        ]
        for file_id, caller, rest in cases:
            shortcut = await running.client.get(
                f"/preview/image/{file_id}/{rest}", headers=caller.auth
            )
            route = await running.client.get(
                f"/preview/image/{{{file_id}}}/{rest}", headers=caller.auth
            )
            assert shortcut.status_code == route.status_code, (rest, shortcut.text)
            if shortcut.status_code == 200:
                assert shortcut.content == route.content
            else:
                assert shortcut.json()["message"] == route.json()["message"]
                assert shortcut.json()["traceId"] == shortcut.headers["x-trace-id"]
            assert shortcut.headers["content-type"] == route.headers["content-type"]
