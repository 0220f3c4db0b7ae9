"""Fixtures of the realtime XMPP tests: a private ejabberd per module, and wschats delivering
to it (`tests.support.xmpp.World`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.support.xmpp import AdminApi, World
from wschats.adapters.db.migrate import upgrade
from wschats.app import create_app
from wschats.config import Settings
from wschats.devtools.ejabberd import PrivateEjabberd


@pytest.fixture(scope="module")
def ejabberd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateEjabberd]:
    """Its own state directory and ports, so a test may stop and start it."""
    server = PrivateEjabberd(tmp_path_factory.mktemp("ejabberd"))
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def world(ejabberd: PrivateEjabberd, tmp_path: Path) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    settings = Settings(
        data_dir=tmp_path, database_url=url, xmpp="ejabberd", xmpp_url=ejabberd.api_url
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            admin = AdminApi(ejabberd.api_url)
            world = World(app.state.container, client, ejabberd, settings, admin)
            try:
                yield world
            finally:
                for xmpp in world.clients:
                    await xmpp.close()
                await admin.close()
