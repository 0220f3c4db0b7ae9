"""Fixtures for the file API tests: every test runs on local storage and on S3 (a real S3 wire
server, moto, on 127.0.0.1), each on SQLite and on PostgreSQL.

This folder has its own `settings` and `running` (the app): the shared fixtures (`app`,
`container`, `adapters`, `api`, `users`, `events`, `clean`) pick them up by name. Each
storage/database pair gets its own database and storage, so one app's start-up storage sweep
never sees another app's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.files.support import S3_ACCESS_KEY, S3_SECRET_KEY, Stored, stored_view
from wschats.adapters.db.migrate import upgrade
from wschats.config import Settings
from wschats.devtools.app import Running, running_app

PG_ADMIN_URL = os.environ.get("WSC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture(scope="session", params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    backend: str, storage: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(f'db-{storage}') / 'wschats.db'}"
        return
    name = f"wsc_files_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(
    backend: str,
    storage: str,
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"files-{backend}-{storage}")
    upgrade(database_url)
    options: dict[str, object] = {}
    if storage == "s3":
        options = {
            "storage_url": f"s3://files-{uuid.uuid4().hex[:16]}",
            "s3_endpoint_url": request.getfixturevalue("s3_endpoint"),
            "s3_access_key": S3_ACCESS_KEY,
            "s3_secret_key": S3_SECRET_KEY,
            "s3_create_bucket": True,
        }
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        max_group_members=6,
        base_path="/services/chats",
        max_attachment_size_mb=2,
        max_room_image_size_in_kb=64,
        max_user_image_size_in_kb=32,
        **options,  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running(settings: Settings) -> AsyncIterator[Running]:
    async with running_app(settings) as value:
        yield value


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def stored(settings: Settings) -> AsyncIterator[Stored]:
    """The storage seen from outside the server (the folder, or the bucket), emptied after
    each test so what a test finds there is its own doing."""
    async with stored_view(settings) as view:
        yield view
        await view.clear()
