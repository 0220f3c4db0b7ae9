"""A database that cannot be reached gives a clear 500 quickly, and /health says why."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.contract import validate_http_response
from wschats.app import create_app
from wschats.config import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(loop_scope="session")
async def client_without_database(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing",
        database_timeout_seconds=2.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.mark.parametrize("path", ["/rooms", "/users/capabilities", "/auth/token"])
async def test_requests_fail_with_a_clear_500(
    client_without_database: httpx.AsyncClient, path: str
) -> None:
    response = await client_without_database.get(path, headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"] == "The database is unavailable"
    assert response.json()["traceId"]
    validate_http_response(response)


async def test_health_reports_the_database_down(client_without_database: httpx.AsyncClient) -> None:
    health = await client_without_database.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "error"
    assert {"name": "database", "isHealthy": False} in body["dependencies"]
    validate_http_response(health)
    ready = await client_without_database.get("/health/ready")
    assert ready.status_code == 500
    assert "database" in ready.json()["message"]
    live = await client_without_database.get("/health/live")
    assert live.status_code == 204
