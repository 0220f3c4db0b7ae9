"""In-process event dispatcher: fan-out to the streams of this server process (the default)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from wschats.adapters.events.streams import ALL_SESSIONS, BoundedStream, event_text
from wschats.domain.events import Delivery

log = logging.getLogger(__name__)


class InProcessEventDispatcher:
    """`EventDispatcher` for a single server process; publishing never waits on a reader."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._streams: dict[UUID, set[BoundedStream]] = {}
        self._closed = False

    async def publish(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            try:
                text = event_text(delivery.event)
            except Exception:
                log.exception("dropping an event that cannot be serialised: %r", delivery.event)
                continue
            for user_id in delivery.recipients:
                # A copy: an overflowing stream unregisters itself while we iterate.
                for stream in tuple(self._streams.get(user_id, ())):
                    stream.offer(text)

    async def end_sessions(self, user_id: UUID, session: str | None) -> None:
        for stream in tuple(self._streams.get(user_id, ())):
            if stream.ends_with(session or ALL_SESSIONS):
                stream.end_session()

    async def subscribe(self, user_id: UUID, queue_id: UUID, session: str = "") -> BoundedStream:
        async def release(stream: BoundedStream) -> None:
            streams = self._streams.get(user_id)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._streams[user_id]

        stream = BoundedStream(queue_id, self._queue_size, release, session)
        if self._closed:
            await stream.close()
        else:
            self._streams.setdefault(user_id, set()).add(stream)
        return stream

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        self._closed = True
        for streams in list(self._streams.values()):
            for stream in tuple(streams):
                await stream.close()
