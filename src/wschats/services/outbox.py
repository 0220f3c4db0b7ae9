"""Delivers the recorded XMPP commands to the chat server (issue 4).

Commands are recorded in the transaction of the change they belong to; this relay sends them
after commit, one room at a time in the order they were recorded, retrying with backoff while
the chat server fails. An outage delays system messages but loses none; a command the server
refuses for good (bad input) is logged and dropped so it cannot block its room forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from wschats.domain.errors import DependencyFailed
from wschats.ports import Clock, MessageDispatcher, OutboxQueue
from wschats.services.background import BackgroundTask

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
# /health reports the XMPP server down once it has not answered for this long, or once a
# command has waited this long (a backlog that does not drain). Shorter outages only delay
# system messages, so they do not take every wschats process out of a load balancer.
STUCK_SECONDS = 120.0


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 0.5, 1, 2, ... up to a minute."""
    return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(attempts, 10)))


class OutboxRelay:
    def __init__(
        self,
        queue: OutboxQueue,
        dispatcher: MessageDispatcher,
        clock: Clock,
        *,
        poll_seconds: float = 1.0,
        batch: int = 50,
        parallel_rooms: int = 5,
    ) -> None:
        self._queue = queue
        self._dispatcher = dispatcher
        self._clock = clock
        self._poll = poll_seconds
        self._batch = batch
        # Rooms delivered at once. Each holds a database connection for its claim (the
        # PostgreSQL advisory lock) and uses another while it works: without a bound, a
        # backlog over many rooms took the whole pool and every request waited for it.
        self._parallel = asyncio.Semaphore(parallel_rooms)
        self._wake = asyncio.Event()
        self._task = BackgroundTask(self._run, "outbox-relay")
        self._unanswered_since: datetime | None = None

    async def healthy(self) -> bool:
        """False once the chat server has not answered for `STUCK_SECONDS` (as seen by these
        probes), or once a command has waited that long; each is logged with its figures."""
        now = self._clock.now()
        limit = timedelta(seconds=STUCK_SECONDS)
        if await self._dispatcher.health():
            self._unanswered_since = None
        elif self._unanswered_since is None:
            self._unanswered_since = now
        unanswered = self._unanswered_since is not None and now - self._unanswered_since >= limit
        if unanswered:
            assert self._unanswered_since is not None
            log.warning(
                "XMPP server down: not answering for %.0f s",
                (now - self._unanswered_since).total_seconds(),
            )
        count, oldest = await self._queue.backlog()
        stuck = oldest is not None and now - oldest >= limit
        if stuck:
            assert oldest is not None
            log.warning(
                "XMPP outbox not draining: %d commands pending, the oldest for %.0f s",
                count, (now - oldest).total_seconds(),
            )  # fmt: skip
        return not (unanswered or stuck)

    def wake(self) -> None:
        """Something was recorded: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                worked = await self.deliver_due()
            except Exception:
                log.exception("outbox relay round failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def deliver_due(self) -> bool:
        """One round over every due room; True if anything was delivered."""
        rooms = await self._queue.due_rooms(self._clock.now(), self._batch)
        results = await asyncio.gather(*(self._deliver_bounded(room) for room in rooms))
        return any(results)

    async def _deliver_bounded(self, room_key: str) -> bool:
        async with self._parallel:
            return await self._deliver_room(room_key)

    async def _deliver_room(self, room_key: str) -> bool:
        delivered = False
        async with self._queue.claim(room_key) as mine:
            if not mine:
                return False
            for entry in await self._queue.entries(room_key, self._batch):
                if entry.next_attempt_at > self._clock.now():
                    break  # an earlier failure is waiting out its backoff: keep the order
                try:
                    command = self._queue.decode(entry)
                    await self._dispatcher.deliver(command)
                except DependencyFailed as exc:
                    delay = backoff(entry.attempts)
                    log.warning(
                        "XMPP delivery of %s for room %s failed (attempt %d), retry in %.1fs: %s",
                        entry.kind, room_key, entry.attempts + 1, delay, exc.message,
                    )  # fmt: skip
                    await self._queue.retry_later(
                        entry.id, exc.message, self._clock.now() + timedelta(seconds=delay)
                    )
                    break
                except Exception as exc:
                    log.error("dropping XMPP command %s for room %s: %s", entry.kind, room_key, exc)
                await self._queue.delivered(entry.id)
                delivered = True
        return delivered
