"""Headers every response carries: `X-Content-Type-Options: nosniff` on JSON bodies and errors
too, not only on file downloads, so no browser reads a body as HTML or script."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import Api, Users
from wschats.app import create_app
from wschats.config import Settings


async def test_json_and_error_responses_say_nosniff(api: Api, users: Users) -> None:
    user = await users.new()
    created = await api.post("/rooms", user, json_body={"type": "temporary", "name": "<b>x</b>"})
    responses = [
        created,
        await api.get("/rooms", user),
        await api.get("/services/chats/rooms", user),
        await api.get("/rooms", None),  # 401
        await api.get("/rooms/00000000-0000-0000-0000-000000000000", user),  # 404
        await api.post("/rooms", user, json_body={"type": "nonsense"}),  # 400
        await api.get("/openapi.json"),
        await api.get("/health/live"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 401, 404, 400, 200, 204]
    for response in responses:
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], (
            response.request.url
        )


async def test_an_unexpected_error_says_nosniff(settings: Settings) -> None:
    # The 500 handler runs outside every middleware; a route that fails as a bug would.
    app: FastAPI = create_app(settings)

    @app.get("/failing")
    async def failing() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        response = await client.get("/failing")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal server error"
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
