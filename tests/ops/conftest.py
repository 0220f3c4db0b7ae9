"""An app on its own SQLite database with the settings a test asks for, over httpx; reading
Prometheus samples."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from wschats.adapters.db.migrate import upgrade
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.devtools.app import Running, running_app
from wschats.ports import NewUser


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class RunningApp:
    running: Running
    client: httpx.AsyncClient

    @property
    def app(self) -> FastAPI:
        return self.running.app

    @property
    def adapters(self) -> Adapters:
        return self.running.adapters

    async def person(self) -> Person:
        directory = self.adapters.directory
        assert directory is not None
        email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
        (user_id,) = await directory.add_users([NewUser(email=email, name="Ops")])
        return Person(user_id, await directory.issue_token(user_id, 3600))

    async def group(self, owner: Person, *members: Person) -> str:
        response = await self.client.post(
            "/rooms",
            json={"name": "g", "type": "group", "membersIds": [str(m.id) for m in members]},
            headers=owner.auth,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the metric sample `name` with exactly these labels, None when absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


AppFactory = Callable[..., AbstractAsyncContextManager[RunningApp]]


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """`async with make_app(metrics=True) as running:` an app whose lifespan has started."""

    @asynccontextmanager
    async def running(**changes: Any) -> AsyncIterator[RunningApp]:
        data_dir = tmp_path / uuid.uuid4().hex[:8]
        data_dir.mkdir()
        url = f"sqlite:///{data_dir / 'wschats.db'}"
        upgrade(url)
        settings = Settings(data_dir=data_dir, database_url=url, **changes)
        # The 500 handler answers and then re-raises (for the server's log): let the client
        # see the answer, as a real client would.
        async with (
            running_app(settings) as running,
            running.client(raise_app_exceptions=False) as client,
        ):
            yield RunningApp(running, client)

    return running
