"""Health endpoints (behaviour.md#health, DECISIONS.md#identity and DECISIONS.md#health)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Users
from wschats.config import Settings

# Every dependency /health can name, in the original's order (behaviour.md#health).
ALL_DEPENDENCIES = [
    "database",
    "authentication_service",
    "profiling_service",
    "xmpp_server",
    "event_dispatcher",
    "storage_service",
    "previewer_service",
    "videoserver_service",
]
# What the embedded default always uses (DECISIONS.md#health); the previewer may be listed too.
EMBEDDED = {
    "database",
    "authentication_service",
    "profiling_service",
    "event_dispatcher",
    "storage_service",
}
NOT_CONFIGURED = {"xmpp_server", "videoserver_service"}

BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Cookie": "ZM_AUTH_TOKEN=forged"},
    {"Authorization": "Bearer forged"},
    {"Cookie": "ZM_AUTH_TOKEN="},
]


def names(body: dict[str, Any]) -> list[str]:
    return [d["name"] for d in body["dependencies"]]


def healthy(body: dict[str, Any]) -> dict[str, bool]:
    return {d["name"]: d["isHealthy"] for d in body["dependencies"]}


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
async def test_health_reports_every_used_dependency_up(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/health", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["isLive"] is True
    assert body["status"] == "ok"
    listed = names(body)
    assert set(listed) >= EMBEDDED
    assert not NOT_CONFIGURED & set(listed), "unconfigured: omitted (DECISIONS.md#health)"
    assert listed == [n for n in ALL_DEPENDENCIES if n in listed], "the original's order"
    assert all(healthy(body).values())


async def test_health_ignores_a_valid_token_too(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    response = await api.get("/health", alice)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
async def test_live_is_204_without_credentials(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/health/live", headers=headers)

    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
async def test_ready_is_204_when_everything_is_up(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/health/ready", headers=headers)

    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health/", 200),
        ("/services/chats/health", 200),
        ("/services/chats/health/live", 204),
        ("/services/chats/health/ready/", 204),
        ("/health/live/", 204),
    ],
)
async def test_health_is_served_under_the_base_path_and_with_a_slash(
    api: Api, path: str, status: int
) -> None:
    assert (await api.get(path)).status_code == status


async def test_a_missing_optional_dependency_is_a_warning(api_with: Any, tmp_path: Path) -> None:
    own = await api_with(data_dir=tmp_path)
    files = tmp_path / "files"
    assert files.is_dir()
    # Storage breaks for real: its folder is replaced by a plain file.
    shutil.rmtree(files)
    files.write_bytes(b"not a folder")

    health = await own.get("/health")
    ready = await own.get("/health/ready")
    live = await own.get("/health/live")

    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "warn"
    assert body["isLive"] is True
    state = healthy(body)
    assert state["storage_service"] is False
    assert all(ok for name, ok in state.items() if name != "storage_service")
    # DECISIONS.md#health: ready but degraded is 429, with a JSON error naming what is down.
    assert ready.status_code == 429
    assert "storage_service" in ready.json()["message"]
    assert live.status_code == 204

    # Once storage is back, so is readiness.
    files.unlink()
    files.mkdir()
    assert (await own.get("/health/ready")).status_code == 204
    assert (await own.get("/health")).json()["status"] == "ok"


async def test_a_missing_required_dependency_is_an_error(
    api_with: Any, settings: Settings, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    if settings.database_url.startswith("postgresql"):
        base = settings.database_url.rsplit("/", 1)[0]
        unreachable = f"{base}/wsc_no_such_database"
    else:
        # A folder where the database file should be: SQLite cannot open it.
        folder = tmp_path / "wschats.db"
        folder.mkdir()
        unreachable = f"sqlite:///{folder}"
    own = await api_with(data_dir=tmp_path, database_url=unreachable)

    health = await own.get("/health")
    ready = await own.get("/health/ready")
    live = await own.get("/health/live")

    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "error"
    assert body["isLive"] is True
    state = healthy(body)
    assert state["database"] is False
    # The built-in directory lives in the database, so identity is down with it.
    assert state["authentication_service"] is False
    assert state["profiling_service"] is False
    assert state["storage_service"] is True
    assert state["event_dispatcher"] is True
    # DECISIONS.md#health: not ready is 500.
    assert ready.status_code == 500
    assert "database" in ready.json()["message"]
    assert live.status_code == 204
