"""The open event sockets of this process and the sessions behind them.

A socket's session is the token it authenticated with. The session ends when the token is
revoked (a logout, `wschats token revoke`), expires, or its user is disabled, and the socket
ends with it:

- a logout through the API ends the user's sockets of that token on every process, through the
  event dispatcher and so in order with the events: none published after it reaches them;
- an end made anywhere else (the command line, another process) is found by the watcher, which
  checks the tokens of this process's open sockets again every `check_seconds`;
- an expiry known when the socket opens is a timer.

Sockets are capped per user and per process (both per process: with several processes a user
may hold `per_user` sockets on each). Beyond either cap the new socket is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from wschats.domain.errors import DomainError, Unauthorized
from wschats.domain.model import Principal
from wschats.ports import Clock, EventDispatcher, EventStream, SessionValidity
from wschats.services.background import BackgroundTask

log = logging.getLogger(__name__)


class TooManyUserSockets(DomainError):
    """The user already holds as many event sockets as allowed (429)."""


class TooManySockets(DomainError):
    """This process already serves as many event sockets as allowed (503)."""


def session_key(token: str) -> str:
    """What names a session on the event dispatcher: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass(eq=False)
class _Session:
    user_id: UUID
    token: str
    stream: EventStream
    expiry: asyncio.TimerHandle | None = None


class EventSessions:
    """Opens, caps, watches and ends the event streams of this process's sockets."""

    def __init__(
        self,
        events: EventDispatcher,
        validity: SessionValidity,
        clock: Clock,
        *,
        per_user: int,
        per_process: int,
        check_seconds: float,
    ) -> None:
        self._events = events
        self._validity = validity
        self._clock = clock
        self._per_user = per_user
        self._per_process = per_process
        self._check_seconds = check_seconds
        self._sessions: dict[EventStream, _Session] = {}
        # Sockets counted from the start of their opening, so concurrent openings keep the caps.
        self._by_user: Counter[UUID] = Counter()
        self._total = 0
        self._watcher = BackgroundTask(self._watch, "wschats-session-watcher")
        self._check_failing = False

    @property
    def open_count(self) -> int:
        return self._total

    def start(self) -> None:
        self._watcher.start()

    async def close(self) -> None:
        await self._watcher.stop()

    async def open(self, caller: Principal, queue_id: UUID) -> EventStream:
        """A stream for a new socket of `caller`; raises `TooManyUserSockets`, `TooManySockets`
        or `Unauthorized` (the session ended meanwhile)."""
        if self.open_count >= self._per_process:
            raise TooManySockets("This server holds as many event sockets as it allows")
        if self._by_user[caller.user_id] >= self._per_user:
            raise TooManyUserSockets(
                f"At most {self._per_user} event sockets per user: close one first"
            )
        self._by_user[caller.user_id] += 1
        self._total += 1
        try:
            valid = await self._validity.valid_sessions([caller.token])
            if caller.token not in valid:
                raise Unauthorized("Invalid or expired token")
            stream = await self._events.subscribe(
                caller.user_id, queue_id, session_key(caller.token)
            )
        except BaseException:
            self._forget_one(caller.user_id)
            raise
        session = _Session(caller.user_id, caller.token, stream)
        expires_at = valid[caller.token]
        if expires_at is not None:
            delay = max(0.0, (expires_at - self._clock.now()).total_seconds())
            session.expiry = asyncio.get_running_loop().call_later(delay, stream.end_session)
        self._sessions[stream] = session
        return stream

    async def release(self, stream: EventStream) -> None:
        """The socket of `stream` is gone: free its place and the stream."""
        session = self._sessions.pop(stream, None)
        if session is not None:
            if session.expiry is not None:
                session.expiry.cancel()
            self._forget_one(session.user_id)
        await stream.close()

    async def end(self, user_id: UUID, token: str | None) -> None:
        """End the sockets of `user_id` opened with `token` (every one of the user's for None),
        on every process."""
        await self._events.end_sessions(user_id, session_key(token) if token else None)

    async def check_now(self) -> int:
        """Check the tokens of every open socket once, end those no longer valid; how many."""
        sessions = list(self._sessions.values())
        if not sessions:
            return 0
        valid = await self._validity.valid_sessions(list({s.token for s in sessions}))
        ended = 0
        for session in sessions:
            if session.token not in valid:
                session.stream.end_session()
                ended += 1
        return ended

    def _forget_one(self, user_id: UUID) -> None:
        self._total -= 1
        self._by_user[user_id] -= 1
        if self._by_user[user_id] <= 0:
            del self._by_user[user_id]

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                ended = await self.check_now()
            except Exception as error:
                # Sockets stay open while their sessions cannot be checked; said once a streak.
                if not self._check_failing:
                    log.warning("cannot check the sessions of open event sockets: %r", error)
                self._check_failing = True
                continue
            if self._check_failing:
                log.info("checking the sessions of open event sockets again")
            self._check_failing = False
            if ended:
                log.info("ended %d event socket(s) whose session ended", ended)
