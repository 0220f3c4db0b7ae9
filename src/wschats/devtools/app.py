"""An app started in-process: its services, and the adapters behind them.

`running_app(settings, previewer=..., ...)` starts an app in-process for a test or a benchmark
that needs its adapters (to arrange data, to look at storage) or replaces one: keyword
arguments replace adapters (see `wschats.bootstrap.build_adapters`), so a caller injects a fake
or a wrapper by passing it, never by reassigning an attribute afterwards. An adapter passed in
stays the caller's to close. The session apps of the tests' conftest files (`running`) are
started with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from wschats.app import create_app
from wschats.bootstrap import Adapters, build_adapters
from wschats.config import Settings
from wschats.container import Container


@dataclass(frozen=True)
class Running:
    """An app whose lifespan has started, with the adapters its services were built on."""

    app: FastAPI
    adapters: Adapters
    settings: Settings

    @property
    def services(self) -> Container:
        value = self.app.state.container
        assert isinstance(value, Container)
        return value

    def client(self, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
        """An HTTP client calling the app in-process (to be closed by the caller)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=raise_app_exceptions)
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def running_app(settings: Settings, **overrides: Any) -> AsyncIterator[Running]:
    """`async with running_app(settings) as running:` the app of `settings`, started, its
    adapters built with `overrides` (`previewer=`, `events=`, ...); all closed on the way out."""
    adapters = await build_adapters(settings, **overrides)
    try:
        app = create_app(settings, adapters=adapters)
        async with app.router.lifespan_context(app):
            yield Running(app, adapters, settings)
    finally:
        await adapters.close()
