"""The composition root: builds adapters from Settings, hands them to services, creates the app.

The only module that knows every concrete adapter.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from wschats.adapters.blobs.local import LocalBlobStore
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.events.inprocess import InProcessEventDispatcher
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.api.errors import install_error_handlers
from wschats.api.middleware import PathNormalizer, TraceIdMiddleware
from wschats.api.routing import register_routes
from wschats.config import Settings
from wschats.container import Container
from wschats.domain.errors import Dependency
from wschats.domain.time import utc_now
from wschats.services.auth import AuthService
from wschats.services.health import HealthService
from wschats.services.meetings import MeetingService
from wschats.services.members import MemberService
from wschats.services.rooms import RoomService
from wschats.services.users import UserService

log = logging.getLogger("wschats")


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


async def build_container(settings: Settings) -> Container:
    database = SqlDatabase(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        timeout=settings.database_timeout_seconds,
        record_messages=settings.xmpp != "none",
    )
    directory = DirectoryIdentity(database)
    events = InProcessEventDispatcher(queue_size=settings.events_queue_size)
    blobs = LocalBlobStore(settings.data_dir / "files")
    await blobs.start()
    clock = SystemClock()
    capabilities = settings.capabilities()
    health = HealthService(
        {
            Dependency.DATABASE: database.health,
            Dependency.AUTHENTICATION: directory.health,
            Dependency.PROFILING: directory.health,
            Dependency.EVENTS: events.health,
            Dependency.STORAGE: blobs.health,
        },
        timeout=settings.database_timeout_seconds,
    )
    return Container(
        settings=settings,
        database=database,
        identity=directory,
        directory=directory,
        events=events,
        blobs=blobs,
        auth=AuthService(directory, directory, settings.token_ttl_seconds),
        rooms=RoomService(database, directory, events, blobs, capabilities, clock),
        members=MemberService(database, directory, events, blobs, capabilities, clock),
        users=UserService(database, directory, capabilities),
        meetings=MeetingService(database, events, blobs, clock),
        health=health,
        closers=[database.close, events.close, blobs.close],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(settings)
        app.state.container = container
        try:
            yield
        finally:
            await container.close()

    app = FastAPI(
        title="wschats: Workstream Collaboration Chats API",
        version="1.3.1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    register_routes(app)
    app.add_middleware(TraceIdMiddleware)
    app.add_middleware(PathNormalizer, base_path=settings.base_path)
    return app
