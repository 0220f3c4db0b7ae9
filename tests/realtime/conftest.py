"""Fixtures of the realtime XMPP tests: a private ejabberd per module, and wschats delivering
to it (`tests.support.xmpp.World`, opened with `open_world`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.xmpp import World, open_world
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
    async with open_world(ejabberd, tmp_path) as value:
        yield value
