"""Finding people (/ext/users) with `WSC_IDENTITY=usermanagement`: only an exact id finds one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.adapters.identity.test_usermanagement_app import person, settings_for, started
from tests.adapters.identity.user_management_endpoint import (
    UserManagementEndpoint,
    user_management_endpoint,
)
from tests.conftest import Api


@pytest.fixture
def endpoint() -> Iterator[UserManagementEndpoint]:
    with user_management_endpoint() as value:
        yield value


@pytest_asyncio.fixture(loop_scope="session")
async def api(endpoint: UserManagementEndpoint, tmp_path: Path) -> AsyncIterator[Api]:
    async for value in started(settings_for(tmp_path, endpoint.url)):
        yield value


async def test_an_exact_user_id_finds_the_person(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    me = person(endpoint, "me")
    ada = person(endpoint, "ada")

    response = await api.get(f"/ext/users?query={ada.id}", me)

    assert response.status_code == 200, response.text
    assert [(p["id"], p["email"]) for p in response.json()] == [(str(ada.id), ada.email)]


async def test_names_unknown_ids_and_emails_find_nobody(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    me = person(endpoint, "me")
    ada = person(endpoint, "ada")

    for query in ("ada", ada.email, str(uuid.uuid4())):
        response = await api.get(f"/ext/users?query={query}", me)

        assert response.status_code == 200, query
        assert response.json() == [], query


async def test_the_client_config_says_only_ids_find_people(
    api: Api, endpoint: UserManagementEndpoint
) -> None:
    me = person(endpoint, "me")

    response = await api.get("/ext/client-config", me)

    assert response.json()["peopleSearch"] == "user-id"
