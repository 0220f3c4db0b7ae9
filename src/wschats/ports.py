"""The ports the services depend on (docs/architecture.md#ports). Adapters implement them.

Every port that /health reports has `health()`; none of these raises for an expected absence
(they return None / False); a dependency that fails raises `DependencyFailed`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from uuid import UUID

from wschats.domain.events import Delivery
from wschats.domain.messaging import MessagingCommand
from wschats.domain.model import (
    ChatsUser,
    FileMetadata,
    FileReach,
    FileType,
    ListedRoom,
    Meeting,
    Room,
    RoomUserSettings,
    Subscription,
    UserProfile,
    UserType,
)
from wschats.domain.previews import PreviewRequest, Rendered

# ---------------------------------------------------------------- database (unit of work)


class RoomRepository(Protocol):
    async def get(self, room_id: UUID) -> Room | None: ...
    async def get_many(self, room_ids: Sequence[UUID]) -> list[Room]: ...
    async def add(self, room: Room, *, one_to_one_pair: tuple[UUID, UUID] | None = None) -> None:
        """Raises `Conflict` if a one-to-one room already exists for that pair."""

    async def update(self, room: Room) -> None: ...
    async def delete(self, room_id: UUID) -> None:
        """Cascades to subscriptions, settings and child channels."""

    async def list_top_level_for_user(self, user_id: UUID) -> list[Room]:
        """Every non-channel room the user is subscribed to, by creation time."""

    async def listing_for_user(self, user_id: UUID, *, with_members: bool) -> list[ListedRoom]:
        """What `list_top_level_for_user` returns, each room with the user's settings and (if
        `with_members`) its members, in one statement whatever the number of rooms."""

    async def children_of(self, workspace_ids: Sequence[UUID]) -> dict[UUID, list[Room]]:
        """Channels of each workspace, by rank."""

    async def max_channel_rank(self, workspace_id: UUID) -> int: ...
    async def find_one_to_one(self, user_a: UUID, user_b: UUID) -> Room | None: ...


class SubscriptionRepository(Protocol):
    async def of_room(self, room_id: UUID) -> list[Subscription]:
        """In member order."""

    async def add(self, subscription: Subscription) -> None:
        """Raises `BadRequest` if the user is already a member."""

    async def add_many(self, subscriptions: Sequence[Subscription]) -> None: ...
    async def remove(self, room_id: UUID, user_id: UUID) -> None: ...
    async def set_owner(self, room_id: UUID, user_id: UUID, owner: bool) -> None: ...
    async def contacts_of(self, user_id: UUID) -> list[UUID]:
        """Distinct members of every room the user is subscribed to."""


class SettingsRepository(Protocol):
    async def get(self, user_id: UUID, room_id: UUID) -> RoomUserSettings | None: ...
    async def of_user(
        self, user_id: UUID, room_ids: Sequence[UUID]
    ) -> dict[UUID, RoomUserSettings]:
        """The user's settings of those rooms that have any."""

    async def save(self, settings: RoomUserSettings) -> None:
        """Insert or update."""

    async def save_many(self, settings: Sequence[RoomUserSettings]) -> None: ...
    async def delete(self, user_id: UUID, room_id: UUID) -> None: ...
    async def max_workspace_rank(self, user_id: UUID) -> int:
        """Highest rank among the user's workspaces, 0 if none."""

    async def max_workspace_ranks(self, user_ids: Sequence[UUID]) -> dict[UUID, int]: ...
    async def workspace_ranks(self, user_id: UUID) -> dict[UUID, int]:
        """The user's workspaces (settings rows with a rank) and their ranks."""


class FileRepository(Protocol):
    async def get(self, file_id: UUID) -> FileMetadata | None: ...
    async def reach(self, file_id: UUID, user_id: UUID) -> FileReach | None:
        """The file with what `user_id`'s access to it depends on, in one statement."""

    async def add(self, metadata: FileMetadata) -> None: ...
    async def update(self, metadata: FileMetadata) -> None: ...
    async def delete(self, file_id: UUID) -> None: ...
    async def of_room(self, room_id: UUID, file_type: FileType) -> list[FileMetadata]: ...
    async def user_avatar(self, user_id: UUID) -> FileMetadata | None: ...
    async def page(
        self,
        room_id: UUID,
        limit: int,
        after: tuple[datetime, UUID] | None,
    ) -> list[FileMetadata]:
        """Attachments by (createdAt desc, id desc), strictly after the cursor."""

    async def existing_ids(self, ids: Sequence[UUID]) -> set[UUID]:
        """Those of `ids` that have a row, in one statement (pass a page, not thousands)."""

    async def ids_after(self, after: UUID | None, limit: int) -> list[UUID]:
        """Up to `limit` file ids in id order, strictly after `after` (keyset pages)."""


class ChatsUserRepository(Protocol):
    async def get(self, user_id: UUID) -> ChatsUser | None: ...
    async def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, ChatsUser]: ...
    async def save(self, user: ChatsUser) -> None: ...


class MeetingRepository(Protocol):
    async def get(self, meeting_id: UUID) -> Meeting | None: ...
    async def of_room(self, room_id: UUID) -> Meeting | None: ...
    async def of_rooms(self, room_ids: Sequence[UUID]) -> list[Meeting]: ...
    async def add(self, meeting: Meeting) -> None:
        """Raises `Conflict` if the room already has a meeting."""

    async def delete(self, meeting_id: UUID) -> None: ...


class Outbox(Protocol):
    """XMPP commands recorded in the transaction of the change they belong to."""

    async def add(self, command: MessagingCommand) -> None: ...


class Repositories(Protocol):
    """The repositories and locks of one open transaction, without the means to commit it:
    what a read gets, and what a use case writes through (services/writes.py commits)."""

    @property
    def rooms(self) -> RoomRepository: ...
    @property
    def members(self) -> SubscriptionRepository: ...
    @property
    def settings(self) -> SettingsRepository: ...
    @property
    def files(self) -> FileRepository: ...
    @property
    def chats_users(self) -> ChatsUserRepository: ...
    @property
    def meetings(self) -> MeetingRepository: ...
    @property
    def outbox(self) -> Outbox: ...

    async def lock_room(self, room_id: UUID) -> None:
        """Serialise writers of one room (member counts, channel ranks) until commit."""

    async def lock_user(self, user_id: UUID) -> None:
        """Serialise writers of one user's workspace ranks until commit."""


class UnitOfWork(Repositories, Protocol):
    """A transaction. Use cases do not commit it themselves: they write through
    `services/writes.py`, which commits and then does what had to wait for the commit."""

    async def commit(self) -> None: ...


class Database(Protocol):
    def unit_of_work(self, *, write: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction; rolled back unless `commit()` is called."""

    def reads(self) -> AbstractAsyncContextManager[Repositories]:
        """Repositories for reads that need no snapshot across statements: each statement
        stands alone (cheaper: no transaction around it). Never commit through it."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------- identity


class IdentityService(Protocol):
    """authentication_service + profiling_service."""

    async def authenticate(self, token: str) -> UserProfile | None:
        """The token's user, or None for an unknown, expired, revoked or disabled one."""

    async def get_user(self, user_id: UUID, *, token: str) -> UserProfile | None: ...
    async def get_users(self, user_ids: Sequence[str], *, token: str) -> list[UserProfile]:
        """Known users among `user_ids`, in the order asked; unknown ones are left out."""

    async def health(self) -> bool: ...


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    id: UUID | None = None
    type: UserType = UserType.INTERNAL
    password: str | None = None


@dataclass(frozen=True)
class DirectoryEntry:
    id: UUID
    email: str
    name: str
    type: UserType
    disabled: bool
    has_password: bool


class UserDirectory(Protocol):
    """Administration of the built-in users and tokens (DECISIONS.md#identity)."""

    async def add_users(
        self, users: Sequence[NewUser], on_progress: Callable[[int], None] | None = None
    ) -> list[UUID]:
        """All or none; raises `BadRequest` naming the offending entry.

        `on_progress(n)` is called as each entry is prepared (password hashing is slow).
        """

    async def list_users(self) -> list[DirectoryEntry]: ...
    async def find(
        self, *, email: str | None = None, user_id: UUID | None = None
    ) -> DirectoryEntry | None: ...
    async def disable(self, user_id: UUID) -> None: ...
    async def search(self, text: str, limit: int) -> list[UserProfile]:
        """Enabled users whose name or email contains `text` (any case), by name."""

    async def issue_token(self, user_id: UUID, ttl_seconds: int) -> str: ...
    async def revoke_token(self, token: str) -> bool: ...
    async def revoke_user_tokens(self, user_id: UUID) -> int:
        """Revoke every token of a user; how many were still valid."""

    async def delete_expired_tokens(self) -> int:
        """Delete the tokens past their expiry; how many."""

    async def check_password(self, email: str, password: str) -> UUID | None:
        """The user's id if the password matches (constant time whatever the outcome)."""

    async def set_password(self, user_id: UUID, password: str) -> None:
        """Replace the password; every token of the user is revoked."""

    async def delete_user(self, user_id: UUID) -> None:
        """Remove the account and its tokens (its rooms are the services' concern)."""


# ---------------------------------------------------------------- files


class DirectSource(Protocol):
    """The rest of a request body, to be copied by the kernel into a file (see DirectBody)."""

    def move_into(self, fd: int, limit: int) -> int:
        """Blocking (a worker thread): append up to `limit` more bytes to the file `fd`; 0
        once the body is whole. `BadRequest` if the client goes away or stalls."""

    def stop(self) -> None:
        """Thread-safe: a `move_into` waiting for the client gives up soon."""

    def release(self) -> None:
        """On the event loop, once done: hand the connection back. A `move_into` still
        running in its thread then stops and cleans up after itself."""


@runtime_checkable
class DirectBody(Protocol):
    """A body stream that a store on local disk may instead take straight from the
    connection, its bytes never passing through the event loop."""

    def direct_source(self) -> DirectSource | None:
        """Claim the direct path (before any iteration), or None: iterate as usual."""


class BlobStore(Protocol):
    """storage_service. Keys are derived from server-generated ids only."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the stream under `key` atomically; returns the byte count.

        If the stream raises or storage fails, nothing is left under `key` and the
        exception propagates (a storage failure as `DependencyFailed`). A store may take a
        `DirectBody`'s direct path instead of iterating it.
        """

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes [start, end) of the blob. Raises `NotFound` if it does not exist."""

    async def size(self, key: str) -> int | None: ...
    async def delete(self, key: str) -> None:
        """Idempotent."""

    async def delete_prefix(self, prefix: str) -> None: ...
    async def copy(self, source: str, target: str) -> None: ...
    def keys(self, prefix: str = "") -> AsyncIterator[str]: ...
    async def existing(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that are stored, for a page of keys at a time: cheaper than a
        `size` each."""

    def local_path(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A local file with the blob's bytes, valid inside the context (previews)."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


class PictureNormaliser(Protocol):
    """Turns an uploaded picture into the one stored (part of previewer_service's image
    handling)."""

    async def normalise_picture(self, data: bytes) -> Rendered:
        """`data` decoded whole and re-encoded at a bounded size, without metadata, with the
        stored bytes' mime type; `BadRequest` when it is not a whole picture of an allowed
        type (truncated, too many pixels, not an image)."""


class Previewer(Protocol):
    """previewer_service."""

    async def render(self, request: PreviewRequest, source: Path) -> Rendered:
        """Raises `BadRequest` for undecodable or out-of-bounds input."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------- realtime and messaging


class StreamClosedError(Exception):
    """`EventStream.next()` on a stream that has ended: its connection should end too."""


class StreamOverflowError(StreamClosedError):
    """The stream ended because its reader fell too far behind."""


class SessionEndedError(StreamClosedError):
    """The stream ended because its session did: token revoked, logged out or expired, or
    user disabled."""


class EventStream(Protocol):
    """The events of one user for one websocket connection, as JSON texts."""

    queue_id: UUID

    async def next(self) -> str:
        """The next event text; raises `StreamClosedError` once the stream has ended."""

    def end_session(self) -> None:
        """End the stream at once: its reader gets `SessionEndedError`, unread texts are lost."""

    async def close(self) -> None: ...


class EventDispatcher(Protocol):
    """event_dispatcher. Publishing is best-effort: it never raises."""

    async def publish(self, deliveries: Sequence[Delivery]) -> None: ...
    async def subscribe(self, user_id: UUID, queue_id: UUID, session: str = "") -> EventStream:
        """A stream of the events of `user_id`, opened for `session` (a key of its token)."""

    async def end_sessions(self, user_id: UUID, session: str | None) -> None:
        """End, on every process, the streams of `user_id` opened for `session` (all of them
        for None) with `SessionEndedError`: an event published after this call reaches none
        of them. Best-effort like publishing: it never raises."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


class MessageDispatcher(Protocol):
    """xmpp_server."""

    async def deliver(self, command: MessagingCommand) -> None:
        """Carry out one command; raises `DependencyFailed` if the server failed."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------- XMPP rooms (docs/xmpp-rooms.md)


@dataclass(frozen=True)
class ChatRoomPlan:
    """What a room's XMPP counterpart should be, as wschats' database says."""

    room_id: UUID
    one_to_one: bool
    name: str | None
    description: str | None
    workspace_name: str | None  # a channel's workspace
    owner_ids: tuple[UUID, ...]
    member_ids: tuple[UUID, ...]  # every member, owners included, in member order


@dataclass(frozen=True)
class MemberRoom:
    """One of a user's rooms, as their bookmark shows it."""

    room_id: UUID
    name: str | None
    workspace_name: str | None
    other_id: UUID | None  # a one-to-one's other member; None for other rooms


class ChatRoomPlans(Protocol):
    """The rooms that have an XMPP room (every room but workspaces), read from the database."""

    async def plan(self, room_id: UUID) -> ChatRoomPlan | None: ...
    async def room_ids(self) -> list[UUID]: ...
    async def rooms_of_member(self, user_id: UUID) -> list[MemberRoom]: ...


class UserNames(Protocol):
    async def names(self, user_ids: Collection[UUID]) -> dict[UUID, str]:
        """Display names of the users it knows; the others are left out (never raises)."""


@dataclass(frozen=True)
class ChatRoomState:
    """A room as the chat server has it."""

    title: str
    description: str
    affiliations: Mapping[UUID, str]  # users with an affiliation other than none
    subscribers: frozenset[UUID]


@dataclass(frozen=True)
class Bookmark:
    room_id: UUID
    name: str


class ChatRooms(Protocol):
    """The chat server's rooms, bookmarks and rosters, for a server wschats reconciles."""

    async def subscribers(self, room_id: UUID) -> frozenset[UUID] | None:
        """The room's subscribers, None if the server has no such room (one cheap call)."""

    async def state(self, room_id: UUID) -> ChatRoomState | None: ...
    async def room_ids(self) -> list[UUID]: ...
    async def create(self, room_id: UUID, title: str, description: str) -> None: ...
    async def set_appearance(
        self, room_id: UUID, *, title: str | None = None, description: str | None = None
    ) -> None:
        """Sets what is given (each change notifies the room's occupants)."""

    async def set_affiliation(self, room_id: UUID, user_id: UUID, affiliation: str) -> None: ...
    async def subscribe(self, room_id: UUID, user_id: UUID) -> None: ...
    async def unsubscribe(self, room_id: UUID, user_id: UUID) -> None: ...
    async def bookmarks(self, user_id: UUID) -> list[Bookmark]: ...
    async def set_bookmarks(self, user_id: UUID, bookmarks: Sequence[Bookmark]) -> None: ...
    async def contact_name(self, user_id: UUID, other_id: UUID) -> str | None:
        """The name `other_id` has in `user_id`'s roster; None if not there."""

    async def set_contact(self, user_id: UUID, other_id: UUID, name: str) -> None: ...
    async def deliver(
        self,
        command: MessagingCommand,
        *,
        names: Mapping[UUID, str] | None = None,
        announce: bool = False,
    ) -> None:
        """Carry out one command, system messages with a readable body using `names`;
        `announce`: send its system message even if the server already has the change."""

    async def health(self) -> bool: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    room_key: str
    kind: str
    payload: str
    attempts: int
    next_attempt_at: datetime


class OutboxQueue(Protocol):
    """The recorded XMPP commands, for the relay that delivers them."""

    async def due_rooms(self, now: datetime, limit: int) -> list[str]:
        """Rooms whose first pending command is due, oldest first."""

    def claim(self, room_key: str) -> AbstractAsyncContextManager[bool]:
        """Exclusive delivery of one room's commands; yields False if someone else has it."""

    async def entries(self, room_key: str, limit: int) -> list[OutboxEntry]:
        """The room's pending commands in the order they were recorded."""

    def decode(self, entry: OutboxEntry) -> MessagingCommand: ...
    async def delivered(self, entry_id: int) -> None: ...
    async def retry_later(self, entry_id: int, error: str, at: datetime) -> None: ...
    async def backlog(self) -> tuple[int, datetime | None]:
        """Pending commands and when the oldest was recorded."""


class SessionValidity(Protocol):
    """Whether the tokens behind open event sockets still authenticate."""

    async def valid_sessions(self, tokens: Sequence[str]) -> dict[str, datetime | None]:
        """Those of `tokens` that still authenticate, each with its expiry (None: not known).
        A token that cannot be checked now (its service is down) counts as valid."""


class Clock(Protocol):
    def now(self) -> datetime: ...
