"""The composition root: Settings -> adapters -> services. The only module that names every
concrete adapter.

Two steps, as in cosmicpython's `bootstrap` (docs/architecture.md#composition-root):

1. `build_adapters(settings, ...)` builds one adapter per port from the settings and starts
   it. Each keyword argument replaces the adapter that would be built: a test passes a fake
   or a wrapper (a previewer that counts its renders). An adapter passed in stays the
   caller's to close; `Adapters.close` closes what it built.
2. `build_services(settings, adapters)` builds the use cases over those adapters and starts
   their background loops (outbox relay, expired-token sweep, session watcher, storage
   sweep). The `Container` it returns holds services only: the HTTP layer reaches an adapter
   through a service, never directly. `Container.close` stops the services; the adapters are
   closed after it, by whoever built them.

`wschats.app.create_app` runs both in the app's lifespan; the commands in `wschats.cli` build
only the adapters they need with the `build_*` functions below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import urlparse

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
from wschats.config import Settings
from wschats.container import Container
from wschats.domain.errors import Dependency
from wschats.domain.time import utc_now
from wschats.ports import (
    BlobStore,
    ChatRooms,
    Clock,
    EventDispatcher,
    IdentityService,
    MessageDispatcher,
    OutboxQueue,
    PictureNormaliser,
    Previewer,
    SessionValidity,
    UserNames,
)
from wschats.services.attachments import AttachmentService
from wschats.services.auth import AuthService
from wschats.services.client_config import ClientConfigService, MessagingAccess
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

Closer = Callable[[], Awaitable[None]]


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class Identity(IdentityService, SessionValidity, Protocol):
    """Who a token belongs to, and whether the tokens of open event sockets still are valid:
    the built-in directory and the user-management service are both."""


# ---------------------------------------------------------------- step 1: the adapters


@dataclass
class Adapters:
    """One adapter per port, as `build_adapters` built them (or was given them)."""

    database: SqlDatabase
    identity: Identity
    directory: DirectoryIdentity | None  # the built-in users and tokens; None with usermanagement
    blobs: BlobStore
    previewer: Previewer
    pictures: PictureNormaliser  # the previewer's pool too, unless a previewer was given
    events: EventDispatcher
    # The chat server, if any: one that takes the commands as they are (MongooseIM), or one
    # whose rooms wschats keeps as the database says (ejabberd, docs/xmpp-rooms.md).
    messaging: MessageDispatcher | None
    chat_rooms: ChatRooms | None
    outbox: OutboxQueue  # the XMPP commands recorded for the chat server
    clock: Clock
    closers: list[Closer] = field(default_factory=list)  # of what build_adapters built

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


async def build_adapters(
    settings: Settings,
    *,
    database: SqlDatabase | None = None,
    identity: Identity | None = None,
    blobs: BlobStore | None = None,
    previewer: Previewer | None = None,
    pictures: PictureNormaliser | None = None,
    events: EventDispatcher | None = None,
    messaging: MessageDispatcher | None = None,
    chat_rooms: ChatRooms | None = None,
    clock: Clock | None = None,
) -> Adapters:
    """The adapters `settings` name, started; each one given replaces the one built (and
    stays the caller's to close). A given `identity` that is the built-in directory is also
    the `directory`."""
    closers: list[Closer] = []
    try:
        if database is None:
            database = build_database(settings)
            closers.append(database.close)
        directory: DirectoryIdentity | None
        if identity is None:
            if settings.identity == "usermanagement":
                user_management = build_user_management(settings)
                closers.append(user_management.close)
                identity, directory = user_management, None
            else:
                hashing = PasswordHashPool(
                    settings.password_hash_workers, settings.password_hash_queue
                )
                closers.append(_closer(hashing.close))
                identity = directory = DirectoryIdentity(database, hashing)
        else:
            directory = identity if isinstance(identity, DirectoryIdentity) else None
        if blobs is None:
            blobs = await build_blob_store(settings)
            closers.append(blobs.close)
        if previewer is None or pictures is None:
            pool = build_previewer(settings)  # its processes start with the first render
            closers.append(pool.close)
            previewer = pool if previewer is None else previewer
            pictures = pool if pictures is None else pictures
        if events is None:
            events = await build_events(settings)
            closers.append(events.close)
        if messaging is None and chat_rooms is None:
            if settings.xmpp == "ejabberd":
                chat_rooms = build_ejabberd(settings)
                closers.append(chat_rooms.close)
            elif settings.xmpp == "mongooseim":
                messaging = build_mongooseim(settings)
                closers.append(messaging.close)
    except BaseException:
        for close in reversed(closers):
            await close()
        raise
    return Adapters(
        database=database,
        identity=identity,
        directory=directory,
        blobs=blobs,
        previewer=previewer,
        pictures=pictures,
        events=events,
        messaging=messaging,
        chat_rooms=chat_rooms,
        outbox=SqlOutboxQueue(database),
        clock=clock or SystemClock(),
        closers=closers,
    )


def build_database(settings: Settings) -> SqlDatabase:
    return SqlDatabase(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        timeout=settings.database_timeout_seconds,
        record_messages=settings.xmpp != "none",
    )


def build_user_management(settings: Settings) -> UserManagementIdentity:
    if not settings.identity_url:
        raise ValueError("WSC_IDENTITY_URL is required when WSC_IDENTITY=usermanagement")
    return UserManagementIdentity(
        settings.identity_url,
        timeout_seconds=settings.identity_timeout_seconds,
        cache_seconds=settings.identity_cache_seconds,
    )


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


def build_previewer(settings: Settings) -> InProcessPreviewer:
    return InProcessPreviewer(
        workers=settings.preview_workers,
        max_pixels=settings.preview_max_pixels,
        timeout_seconds=settings.preview_timeout_seconds,
        picture_max_side=settings.picture_max_side_px,
    )


async def build_events(settings: Settings) -> EventDispatcher:
    if settings.events_url:
        rabbit = RabbitMqEventDispatcher(settings.events_url, queue_size=settings.events_queue_size)
        await rabbit.start()  # never raises: a broker that is down is retried in the background
        return rabbit
    return InProcessEventDispatcher(queue_size=settings.events_queue_size)


def build_ejabberd(settings: Settings) -> EjabberdMessageDispatcher:
    if not settings.xmpp_url:
        raise ValueError("WSC_XMPP_URL is required when WSC_XMPP is set")
    return EjabberdMessageDispatcher(
        settings.xmpp_url,
        host=settings.xmpp_domain,
        muc_service=settings.xmpp_muc_service,
        credentials=(
            (settings.xmpp_username, settings.xmpp_password or "")
            if settings.xmpp_username
            else None
        ),
        timeout=settings.xmpp_timeout_seconds,
    )


def build_mongooseim(settings: Settings) -> MongooseImMessageDispatcher:
    if not settings.xmpp_url:
        raise ValueError("WSC_XMPP_URL is required when WSC_XMPP is set")
    return MongooseImMessageDispatcher(
        settings.xmpp_url,
        settings.xmpp_username or "",
        settings.xmpp_password or "",
        settings.xmpp_timeout_seconds,
        domain=settings.xmpp_domain,
    )


def room_sync(
    rooms: ChatRooms, database: SqlDatabase, directory: DirectoryIdentity | None
) -> tuple[RoomSync, UserNames]:
    """What keeps ejabberd's rooms as the database says (also for `wschats xmpp resync`)."""
    names: UserNames = DirectoryNames(directory) if directory is not None else NoNames()
    return RoomSync(SqlChatRoomPlans(database), rooms, names), names


def _closer(close: Callable[[], None]) -> Closer:
    async def closer() -> None:
        close()

    return closer


# ---------------------------------------------------------------- step 2: the services


def build_services(
    settings: Settings,
    adapters: Adapters,
    *,
    on_preview_lookup: Callable[[bool], None] | None = None,
) -> Container:
    """The use cases over `adapters`, their background loops started. `on_preview_lookup`
    hears whether each preview lookup found a stored preview (the metrics count them)."""
    closers: list[Closer] = []
    database, identity, directory = adapters.database, adapters.identity, adapters.directory
    events, blobs, previewer, clock = (
        adapters.events,
        adapters.blobs,
        adapters.previewer,
        adapters.clock,
    )
    session_check_seconds = settings.session_check_seconds
    if settings.identity == "usermanagement":
        # Its answers are cached that long: checking more often would learn nothing new.
        session_check_seconds = max(session_check_seconds, settings.identity_cache_seconds)
    if directory is not None:
        sweep = ExpiredTokenSweep(directory, settings.expired_token_sweep_seconds)
        sweep.start()
        closers.append(sweep.close)
    dispatcher = adapters.messaging
    if adapters.chat_rooms is not None:
        delivery = ReconcilingDelivery(
            adapters.chat_rooms, *room_sync(adapters.chat_rooms, database, directory)
        )
        closers.append(delivery.close)
        dispatcher = delivery
    relay: OutboxRelay | None = None
    if dispatcher is not None:
        relay = OutboxRelay(
            adapters.outbox,
            dispatcher,
            clock,
            # Two connections a room at most (claim + work): half the pool stays for requests.
            parallel_rooms=max(1, settings.database_pool_size // 2),
        )
        database.on_messages = relay.wake
        relay.start()
        closers.append(relay.stop)

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
    pictures = PictureService(database, events, blobs, capabilities, clock, adapters.pictures)
    closers += [attachments.close, pictures.close]
    storage = StorageCheck(database, blobs)
    if settings.storage_sweep_on_start:
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
        identity,
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


def messaging_access(settings: Settings) -> MessagingAccess:
    """Where browsers find the XMPP websocket, or why messages are unavailable."""
    domain = settings.xmpp_domain
    muc = settings.xmpp_muc_service or f"muclight.{domain}"
    if settings.xmpp == "none":
        reason = (
            "Messages are unavailable: this server runs without an XMPP server (WSC_XMPP=none)."
            " Rooms, members and files still work."
        )
        return MessagingAccess(None, domain, muc, reason)
    if settings.xmpp_websocket_url:
        return MessagingAccess(settings.xmpp_websocket_url, domain, muc)
    if settings.xmpp == "ejabberd" and settings.xmpp_url:
        location = urlparse(settings.xmpp_url)
        scheme = "wss" if location.scheme == "https" else "ws"
        return MessagingAccess(f"{scheme}://{location.netloc}/ws", domain, muc)
    reason = (
        "Messages are unavailable: the address of the XMPP websocket is not configured"
        " (WSC_XMPP_WEBSOCKET_URL)."
    )
    return MessagingAccess(None, domain, muc, reason)
