"""Fixtures of the realtime tests: a private ejabberd per module, wschats delivering to it
(`tests.support.xmpp.World`, opened with `open_world`), and two `wschats serve` processes
sharing PostgreSQL and RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.xmpp import World, open_world
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.servers import ServerProcess, server_env

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


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


@pytest.fixture(scope="module")
def two_servers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes of one installation: events between them go through RabbitMQ."""
    data = tmp_path_factory.mktemp("two")
    servers = tuple(
        ServerProcess(
            env=server_env(data / name, postgres_url, {"WSC_EVENTS_URL": AMQP}),
            log_path=data / f"{name}.log",
        )
        for name in ("a", "b")
    )
    for server in servers:
        server.start()
    yield servers[0], servers[1]
    for server in servers:
        server.stop()
