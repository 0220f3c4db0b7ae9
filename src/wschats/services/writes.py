"""The one way a use case changes the database (docs/architecture.md#rules):

    async with self._writes.transaction() as tx:
        access = await load_access(tx, room_id, caller.user_id)
        await tx.members.remove(room_id, user_id)
        tx.notify(RoomMemberRemoved(...), access.member_ids)

Inside the block `tx` has the repositories and locks of one write transaction, and keeps what
must wait for the commit: events to publish (`notify`) and stored files to remove
(`forget_file`). When the block ends normally the transaction commits and, only once the
commit has succeeded, that work is done, after the transaction has let go of its connection
(and of SQLite's write turn). If the block raises, or the commit fails, the transaction rolls
back and none of it is done. There is no commit to call, so none to forget, and no side effect
can run for a change that did not happen.

XMPP commands are not kept here: they go to the outbox (`tx.outbox`), inside the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

from wschats.domain.events import Delivery, DomainEvent
from wschats.domain.files import blob_key, preview_prefix
from wschats.ports import (
    BlobStore,
    ChatsUserRepository,
    Database,
    EventDispatcher,
    FileRepository,
    MeetingRepository,
    Outbox,
    RoomRepository,
    SettingsRepository,
    SubscriptionRepository,
    UnitOfWork,
)

log = logging.getLogger(__name__)


class Transaction:
    """One write in progress: the repositories (a `Repositories`), and the work kept for after
    its commit. Usable only inside its `async with` block."""

    def __init__(self, uow: UnitOfWork, *, publishes: bool) -> None:
        self._uow = uow
        self._publishes = publishes
        self._open = True
        self._deliveries: list[Delivery] = []
        self._forgotten_files: list[UUID] = []

    @property
    def rooms(self) -> RoomRepository:
        return self._uow.rooms

    @property
    def members(self) -> SubscriptionRepository:
        return self._uow.members

    @property
    def settings(self) -> SettingsRepository:
        return self._uow.settings

    @property
    def files(self) -> FileRepository:
        return self._uow.files

    @property
    def chats_users(self) -> ChatsUserRepository:
        return self._uow.chats_users

    @property
    def meetings(self) -> MeetingRepository:
        return self._uow.meetings

    @property
    def outbox(self) -> Outbox:
        return self._uow.outbox

    async def lock_room(self, room_id: UUID) -> None:
        await self._uow.lock_room(room_id)

    async def lock_user(self, user_id: UUID) -> None:
        await self._uow.lock_user(user_id)

    def notify(self, event: DomainEvent, recipients: Sequence[UUID]) -> None:
        """Publish `event` to `recipients` once the transaction has committed."""
        self._check_open()
        if not self._publishes:
            raise RuntimeError("this service was given no event dispatcher to publish with")
        self._deliveries.append(Delivery.to(event, recipients))

    def forget_file(self, file_id: UUID) -> None:
        """Remove the stored bytes and previews of a file whose row this transaction deletes,
        once it has committed."""
        self._check_open()
        self._forgotten_files.append(file_id)

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("the transaction is over: keep work for after it inside its block")

    def _close(self) -> None:
        self._open = False


class Writes:
    """Write transactions of a service, over the ports its after-commit work needs (`events`
    only for a service that publishes events)."""

    def __init__(
        self, database: Database, blobs: BlobStore, events: EventDispatcher | None = None
    ) -> None:
        self._db = database
        self._blobs = blobs
        self._events = events

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction, committed when the block ends normally (see the module)."""
        async with self._db.unit_of_work(write=True) as uow:
            tx = Transaction(uow, publishes=self._events is not None)
            try:
                yield tx
            finally:
                tx._close()
            await uow.commit()
        await self._after_commit(tx)

    async def _after_commit(self, tx: Transaction) -> None:
        """Never raises: the change has been made whatever happens here."""
        # The database is the source of truth: bytes left behind by a failure here are an
        # orphan that `wschats storage check --repair` removes; never a row without bytes.
        for file_id in tx._forgotten_files:
            try:
                await self._blobs.delete(blob_key(file_id))
            except Exception as exc:
                log.warning("could not delete the bytes of file %s after commit: %s", file_id, exc)
        for file_id in tx._forgotten_files:
            try:
                await self._blobs.delete_prefix(preview_prefix(file_id))
            except Exception as exc:
                log.warning(
                    "could not delete the previews of file %s after commit: %s", file_id, exc
                )
        if tx._deliveries and self._events is not None:
            await self._events.publish(tx._deliveries)  # best-effort: never raises
