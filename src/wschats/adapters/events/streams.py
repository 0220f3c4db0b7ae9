"""The local end of an event stream, shared by the event dispatcher adapters.

A stream buffers the JSON texts of one websocket connection in a bounded queue. Offering never
blocks: a stream whose reader falls `maxsize` texts behind is closed as overflowed, so one slow
client cannot hold up the others, and its reader learns it from `next()`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from uuid import UUID

from wschats.domain.events import DomainEvent
from wschats.ports import SessionEndedError, StreamClosedError, StreamOverflowError

# The header of a broker message that ends sessions instead of carrying an event: the session
# key, or `ALL_SESSIONS`.
END_SESSION_HEADER = "wsc-end-session"
ALL_SESSIONS = "*"


def event_text(event: DomainEvent) -> str:
    """The wire text of an event: compact JSON (sent as UTF-8 bytes over the broker)."""
    return json.dumps(event.to_json(), separators=(",", ":"))


class BoundedStream:
    """An `EventStream` fed by `offer()`; one reader calls `next()`.

    `release` is the owner's clean-up (unregister, delete the broker queue); it runs once, on
    `close()` or after an overflow.
    """

    def __init__(
        self,
        queue_id: UUID,
        maxsize: int,
        release: Callable[[BoundedStream], Awaitable[None]],
        session: str = "",
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.queue_id = queue_id
        self.session = session
        self._maxsize = maxsize
        self._release = release
        self._texts: deque[str] = deque()
        self._changed = asyncio.Event()
        self._failure: type[StreamClosedError] | None = None
        self._released = False
        # Holds the clean-up started by an overflow or a session end so it is not
        # garbage-collected mid-way.
        self._cleanup: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self._failure is not None

    @property
    def overflowed(self) -> bool:
        return self._failure is StreamOverflowError

    def offer(self, text: str) -> None:
        """Queue a text without waiting; overflowing closes the stream."""
        if self._failure is not None:
            return
        if len(self._texts) >= self._maxsize:
            self._end(StreamOverflowError)
            return
        self._texts.append(text)
        self._changed.set()

    def ends_with(self, session: str) -> bool:
        """Whether ending `session` (a key or `ALL_SESSIONS`) ends this stream."""
        return session in (ALL_SESSIONS, self.session)

    def end_session(self) -> None:
        self._end(SessionEndedError)

    async def next(self) -> str:
        """The next text; raises `StreamClosedError` (or its `StreamOverflowError`) once ended."""
        while not self._texts and self._failure is None:
            self._changed.clear()
            await self._changed.wait()
        if self._failure is not None:
            raise self._failure(f"event stream {self.queue_id} has ended")
        return self._texts.popleft()

    async def close(self) -> None:
        self._fail(StreamClosedError)
        await self._run_release()

    def _end(self, failure: type[StreamClosedError]) -> None:
        if self._failure is not None:
            return
        self._fail(failure)
        self._cleanup = asyncio.get_running_loop().create_task(self._run_release())

    def _fail(self, failure: type[StreamClosedError]) -> None:
        if self._failure is None:
            self._failure = failure
            # Texts not yet read are lost either way; free them now.
            self._texts.clear()
        self._changed.set()

    async def _run_release(self) -> None:
        if self._released:
            return
        self._released = True
        await self._release(self)
