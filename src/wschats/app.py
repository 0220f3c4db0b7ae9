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
from wschats.adapters.db.chat_room_plans import SqlChatRoomPlans
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.outbox import SqlOutboxQueue
from wschats.adapters.events import InProcessEventDispatcher, RabbitMqEventDispatcher
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.adapters.identity.hashing import PasswordHashPool
from wschats.adapters.identity.names import DirectoryNames, NoNames
from wschats.adapters.identity.usermanagement import UserManagementIdentity
from wschats.adapters.preview import InProcessPreviewer
from wschats.adapters.xmpp import EjabberdMessageDispatcher, MongooseImMessageDispatcher
from wschats.api.docs import install_docs
from wschats.api.errors import install_error_handlers
from wschats.api.openapi import install_openapi
from wschats.api.routing import register_routes
from wschats.api.server.limits import RequestLimits, rate_limiter
from wschats.api.server.metrics import Metrics, OutboxBacklog, install_metrics
from wschats.api.server.middleware import PathNormalizer, TraceIdMiddleware
from wschats.api.server.observability import RequestObserver
from wschats.api.server.preview_shortcut import PreviewShortcut
from wschats.api.web_client import default_web_dir, install_web_client, messaging_access
from wschats.config import Settings
from wschats.container import Container
from wschats.domain.errors import Dependency
from wschats.domain.time import utc_now
from wschats.ports import (
    BlobStore,
    ChatRooms,
    EventDispatcher,
    IdentityService,
    MessageDispatcher,
    SessionValidity,
    UserNames,
)
from wschats.services.attachments import AttachmentService
from wschats.services.auth import AuthService
from wschats.services.client_config import ClientConfigService
from wschats.services.health import HealthService, Probe
from wschats.services.login_throttle import LoginLimits, LoginThrottle
from wschats.services.meetings import MeetingService
from wschats.services.members import MemberService
from wschats.services.outbox import OutboxRelay
from wschats.services.people import PeopleSearch
from wschats.services.pictures import PictureService
from wschats.services.previews import PreviewService
from wschats.services.rooms import RoomService
from wschats.services.sessions import EventSessions
from wschats.services.storage import StorageCheck, sweep_grace_seconds
from wschats.services.token_sweep import ExpiredTokenSweep
from wschats.services.users import UserService
from wschats.services.xmpp_rooms import ReconcilingDelivery, RoomSync

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


def room_sync(
    rooms: ChatRooms, database: SqlDatabase, directory: DirectoryIdentity | None
) -> tuple[RoomSync, UserNames]:
    """What keeps ejabberd's rooms as the database says (also for `wschats xmpp resync`)."""
    names: UserNames = DirectoryNames(directory) if directory is not None else NoNames()
    return RoomSync(SqlChatRoomPlans(database), rooms, names), names


def build_messaging(
    settings: Settings, database: SqlDatabase, directory: DirectoryIdentity | None
) -> MessageDispatcher | None:
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
        ejabberd = EjabberdMessageDispatcher(
            settings.xmpp_url,
            host=settings.xmpp_domain,
            muc_service=settings.xmpp_muc_service,
            credentials=credentials,
            timeout=settings.xmpp_timeout_seconds,
        )
        return ReconcilingDelivery(ejabberd, *room_sync(ejabberd, database, directory))
    return MongooseImMessageDispatcher(
        settings.xmpp_url,
        settings.xmpp_username or "",
        settings.xmpp_password or "",
        settings.xmpp_timeout_seconds,
        domain=settings.xmpp_domain,
    )


def build_user_management(settings: Settings) -> UserManagementIdentity:
    if not settings.identity_url:
        raise ValueError("WSC_IDENTITY_URL is required when WSC_IDENTITY=usermanagement")
    return UserManagementIdentity(
        settings.identity_url,
        timeout_seconds=settings.identity_timeout_seconds,
        cache_seconds=settings.identity_cache_seconds,
    )


async def build_container(
    settings: Settings, on_preview_lookup: Callable[[bool], None] | None = None
) -> Container:
    closers: list[Callable[[], Awaitable[None]]] = []
    database = SqlDatabase(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        timeout=settings.database_timeout_seconds,
        record_messages=settings.xmpp != "none",
    )
    closers.append(database.close)
    identity: IdentityService
    validity: SessionValidity
    directory: DirectoryIdentity | None = None
    session_check_seconds = settings.session_check_seconds
    if settings.identity == "usermanagement":
        user_management = build_user_management(settings)
        closers.append(user_management.close)
        identity = validity = user_management
        # Its answers are cached that long: checking more often would learn nothing new.
        session_check_seconds = max(session_check_seconds, settings.identity_cache_seconds)
    else:
        hashing = PasswordHashPool(settings.password_hash_workers, settings.password_hash_queue)
        closers.append(_closer(hashing.close))
        directory = DirectoryIdentity(database, hashing)
        identity = validity = directory
        sweep = ExpiredTokenSweep(directory, settings.expired_token_sweep_seconds)
        sweep.start()
        closers.append(sweep.close)
    blobs = await build_blob_store(settings)
    closers.append(blobs.close)
    previewer = InProcessPreviewer(
        workers=settings.preview_workers,
        max_pixels=settings.preview_max_pixels,
        timeout_seconds=settings.preview_timeout_seconds,
        picture_max_side=settings.picture_max_side_px,
    )
    closers.append(previewer.close)
    events = await build_events(settings)
    closers.append(events.close)
    messaging = build_messaging(settings, database, directory)
    relay: OutboxRelay | None = None
    if messaging is not None:
        closers.append(messaging.close)
        relay = OutboxRelay(
            SqlOutboxQueue(database),
            messaging,
            SystemClock(),
            # Two connections a room at most (claim + work): half the pool stays for requests.
            parallel_rooms=max(1, settings.database_pool_size // 2),
        )
        database.on_messages = relay.wake
        relay.start()
        closers.append(relay.stop)

    clock = SystemClock()
    capabilities = settings.capabilities()
    probes: dict[Dependency, Probe] = {
        Dependency.DATABASE: database.health,
        Dependency.AUTHENTICATION: identity.health,
        Dependency.PROFILING: identity.health,
        Dependency.EVENTS: events.health,
        Dependency.STORAGE: blobs.health,
        Dependency.PREVIEWER: previewer.health,
    }
    if relay is not None:
        probes[Dependency.XMPP] = relay.healthy
    attachments = AttachmentService(
        database, blobs, clock, max_attachment_bytes=settings.max_attachment_size_mb * 1024 * 1024
    )
    pictures = PictureService(
        database,
        events,
        blobs,
        capabilities,
        clock,
        previewer,
    )
    closers += [attachments.close, pictures.close]
    storage = StorageCheck(database, blobs)
    storage.start_sweep(sweep_grace_seconds(settings.database_timeout_seconds))
    closers.append(storage.close)
    previews = PreviewService(
        database,
        blobs,
        previewer,
        on_preview_lookup,
        memory_cache_bytes=settings.preview_memory_cache_mb * 1024 * 1024,
    )
    closers.append(previews.close)  # closed first: it finishes its cache writes
    sessions = EventSessions(
        events,
        validity,
        clock,
        per_user=settings.events_max_sockets_per_user,
        per_process=settings.events_max_sockets,
        check_seconds=session_check_seconds,
    )
    sessions.start()
    closers.append(sessions.close)
    people = PeopleSearch(directory, identity)
    return Container(
        settings=settings,
        database=database,
        identity=identity,
        directory=directory,
        events=events,
        blobs=blobs,
        previewer=previewer,
        messaging=messaging,
        auth=AuthService(identity, directory, settings.token_ttl_seconds, login_throttle(settings)),
        rooms=RoomService(database, identity, events, blobs, capabilities, clock),
        members=MemberService(database, identity, events, blobs, capabilities, clock),
        users=UserService(database, identity, capabilities),
        meetings=MeetingService(database, events, blobs, clock),
        health=HealthService(probes, timeout=settings.database_timeout_seconds),
        previews=previews,
        attachments=attachments,
        pictures=pictures,
        storage=storage,
        sessions=sessions,
        people=people,
        client_config=ClientConfigService(messaging_access(settings), people.by_name_or_email),
        closers=closers,
    )


def login_throttle(settings: Settings) -> LoginThrottle | None:
    limits = LoginLimits(
        per_account_and_address=settings.login_failures_per_account_and_address,
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window_seconds=settings.login_failure_window_seconds,
    )
    return LoginThrottle(limits) if limits.enabled else None


def _closer(close: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def closer() -> None:
        close()

    return closer


def outbox_backlog(container: Container) -> OutboxBacklog | None:
    """How far XMPP delivery is behind, for the metrics: only XMPP deployments have an outbox."""
    if container.messaging is None or not isinstance(container.database, SqlDatabase):
        return None
    return SqlOutboxQueue(container.database).backlog


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics() if settings.metrics else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(
            settings, metrics.count_preview_lookup if metrics is not None else None
        )
        app.state.container = container
        backlog = outbox_backlog(container)
        if metrics is not None and backlog is not None:
            metrics.watch_outbox(backlog)
        try:
            yield
        finally:
            await container.close()

    app = FastAPI(
        title="wschats: Workstream Collaboration Chats API",
        version="1.3.1",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,  # not served: its assets would come from a CDN
    )
    app.state.rate_limiter = rate_limiter(settings)
    install_error_handlers(app)
    register_routes(app)
    install_web_client(app, settings.web_dir or default_web_dir(), settings.base_path)
    install_openapi(app, base_path=settings.base_path)
    if settings.api_docs:
        install_docs(app, base_path=settings.base_path)
    if metrics is not None:
        install_metrics(app, metrics, token=settings.metrics_token or None)
    # The last added runs first: TraceId (and nosniff), PathNormalizer, RequestObserver,
    # RequestLimits, PreviewShortcut.
    app.add_middleware(PreviewShortcut)
    app.add_middleware(
        RequestLimits,
        max_json_body=settings.max_json_body_kb * 1024,
        max_list_length=settings.max_list_length,
    )
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_middleware(PathNormalizer, base_path=settings.base_path)
    app.add_middleware(TraceIdMiddleware)
    return app
