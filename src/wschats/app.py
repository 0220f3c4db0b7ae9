"""The composition root: builds adapters from Settings, hands them to services, creates the app.

The only module that knows every concrete adapter.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import urlparse

from fastapi import FastAPI

from wschats.adapters.blobs import LocalBlobStore, S3BlobStore
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.outbox import SqlOutboxQueue
from wschats.adapters.events import InProcessEventDispatcher, RabbitMqEventDispatcher
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.adapters.preview import InProcessPreviewer
from wschats.adapters.xmpp import EjabberdMessageDispatcher, MongooseImMessageDispatcher
from wschats.api.errors import install_error_handlers
from wschats.api.middleware import PathNormalizer, TraceIdMiddleware
from wschats.api.routing import register_routes
from wschats.config import Settings
from wschats.container import Container
from wschats.domain.errors import Dependency
from wschats.domain.time import utc_now
from wschats.ports import BlobStore, EventDispatcher, MessageDispatcher
from wschats.services.auth import AuthService
from wschats.services.health import HealthService, Probe
from wschats.services.meetings import MeetingService
from wschats.services.members import MemberService
from wschats.services.outbox import OutboxRelay
from wschats.services.rooms import RoomService
from wschats.services.users import UserService

log = logging.getLogger("wschats")


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


async def build_blob_store(settings: Settings) -> BlobStore:
    if settings.storage_url and settings.storage_url.startswith("s3://"):
        location = urlparse(settings.storage_url)
        s3 = S3BlobStore(
            bucket=location.netloc,
            endpoint_url=settings.s3_endpoint_url,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
            prefix=location.path.strip("/"),
            create_bucket=settings.s3_create_bucket,
        )
        await s3.start()
        return s3
    if settings.storage_url:
        raise ValueError(f"unsupported WSC_STORAGE_URL: {settings.storage_url} (use s3://bucket)")
    local = LocalBlobStore(settings.data_dir / "files")
    await local.start()  # also sweeps temp files left by a crash
    return local


async def build_events(settings: Settings) -> EventDispatcher:
    if settings.events_url:
        rabbit = RabbitMqEventDispatcher(settings.events_url, queue_size=settings.events_queue_size)
        await rabbit.start()  # never raises: a broker that is down is retried in the background
        return rabbit
    return InProcessEventDispatcher(queue_size=settings.events_queue_size)


def build_messaging(settings: Settings) -> MessageDispatcher | None:
    if settings.xmpp == "none":
        return None
    if not settings.xmpp_url:
        raise ValueError("WSC_XMPP_URL is required when WSC_XMPP is set")
    if settings.xmpp == "ejabberd":
        credentials = (
            (settings.xmpp_username, settings.xmpp_password or "")
            if settings.xmpp_username
            else None
        )
        return EjabberdMessageDispatcher(
            settings.xmpp_url,
            host=settings.xmpp_domain,
            muc_service=settings.xmpp_muc_service,
            credentials=credentials,
            timeout=settings.xmpp_timeout_seconds,
        )
    return MongooseImMessageDispatcher(
        settings.xmpp_url,
        settings.xmpp_username or "",
        settings.xmpp_password or "",
        settings.xmpp_timeout_seconds,
        domain=settings.xmpp_domain,
    )


async def build_container(settings: Settings) -> Container:
    closers: list[Callable[[], Awaitable[None]]] = []
    database = SqlDatabase(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        timeout=settings.database_timeout_seconds,
        record_messages=settings.xmpp != "none",
    )
    closers.append(database.close)
    directory = DirectoryIdentity(database)
    blobs = await build_blob_store(settings)
    closers.append(blobs.close)
    previewer = InProcessPreviewer(
        workers=settings.preview_workers,
        max_pixels=settings.preview_max_pixels,
        timeout_seconds=settings.preview_timeout_seconds,
    )
    closers.append(previewer.close)
    events = await build_events(settings)
    closers.append(events.close)
    messaging = build_messaging(settings)
    relay: OutboxRelay | None = None
    if messaging is not None:
        closers.append(messaging.close)
        relay = OutboxRelay(SqlOutboxQueue(database), messaging, SystemClock())
        database.on_messages = relay.wake
        relay.start()
        closers.append(relay.stop)

    clock = SystemClock()
    capabilities = settings.capabilities()
    probes: dict[Dependency, Probe] = {
        Dependency.DATABASE: database.health,
        Dependency.AUTHENTICATION: directory.health,
        Dependency.PROFILING: directory.health,
        Dependency.EVENTS: events.health,
        Dependency.STORAGE: blobs.health,
        Dependency.PREVIEWER: previewer.health,
    }
    if relay is not None:
        probes[Dependency.XMPP] = relay.healthy
    return Container(
        settings=settings,
        database=database,
        identity=directory,
        directory=directory,
        events=events,
        blobs=blobs,
        previewer=previewer,
        messaging=messaging,
        auth=AuthService(directory, directory, settings.token_ttl_seconds),
        rooms=RoomService(database, directory, events, blobs, capabilities, clock),
        members=MemberService(database, directory, events, blobs, capabilities, clock),
        users=UserService(database, directory, capabilities),
        meetings=MeetingService(database, events, blobs, clock),
        health=HealthService(probes, timeout=settings.database_timeout_seconds),
        closers=closers,
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
