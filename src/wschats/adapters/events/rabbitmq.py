"""RabbitMQ event dispatcher, with the original's topology (behaviour.md#event-dispatcher).

- Publishing: one direct exchange per user, named after the user id (non-durable, not
  auto-delete); each event is published to each recipient's exchange with routing key "".
- Subscribing: one queue `<userId>/<queueId>` per websocket connection (non-durable,
  auto-delete), bound to the user's exchange with routing key "", consumed with auto-ack into
  a bounded local stream; closing the stream deletes the queue.

Events are best-effort: a broker failure is logged and the events are dropped, and no call
waits on the broker longer than its timeout. A background task owns the connection: it
reconnects after a loss and re-creates the queue and binding of every open stream, so streams
outlive broker disconnections (events published meanwhile are lost, as in the original).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from wschats.adapters.events.streams import (
    ALL_SESSIONS,
    END_SESSION_HEADER,
    BoundedStream,
    event_text,
)
from wschats.domain.events import Delivery

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Link:
    """One broker connection and what was set up on it; discarded when the connection drops."""

    connection: AbstractConnection
    publisher: AbstractChannel
    consumer: AbstractChannel
    exchanges: dict[UUID, AbstractExchange] = field(default_factory=dict)
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def usable(self) -> bool:
        return not (
            self.lost.is_set()
            or self.connection.is_closed
            or self.publisher.is_closed
            or self.consumer.is_closed
        )


class _BrokerStream(BoundedStream):
    """A stream and the broker queue currently feeding it (none while disconnected)."""

    def __init__(
        self,
        user_id: UUID,
        queue_id: UUID,
        maxsize: int,
        release: Callable[[BoundedStream], Awaitable[None]],
        session: str,
    ) -> None:
        super().__init__(queue_id, maxsize, release, session)
        self.user_id = user_id
        self.queue_name = f"{user_id}/{queue_id}"
        self.link: _Link | None = None
        self.queue: AbstractQueue | None = None
        self.consumer_tag: str | None = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        ended = (message.headers or {}).get(END_SESSION_HEADER)
        if ended is not None:
            if isinstance(ended, bytes):
                ended = ended.decode("utf-8", errors="replace")
            if self.ends_with(str(ended)):
                self.end_session()
            return
        # Bodies are forwarded unchanged; `replace` only guards against foreign publishers.
        self.offer(message.body.decode("utf-8", errors="replace"))


class RabbitMqEventDispatcher:
    """`EventDispatcher` over RabbitMQ, for several server processes or machines.

    Call `start()` once on start-up (it does not fail if the broker is down) and `close()` on
    shutdown.
    """

    def __init__(
        self,
        url: str,
        queue_size: int = 1000,
        *,
        operation_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 15.0,
        connection_name: str = "wschats",
    ) -> None:
        self._queue_size = queue_size
        self._url = url
        self._operation_timeout = operation_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._connection_name = connection_name
        self._streams: set[_BrokerStream] = set()
        # The live link, used for publishing as soon as it is open ...
        self._link: _Link | None = None
        # ... and for subscribing once every open stream has been re-attached to it.
        self._restored: _Link | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt_done = asyncio.Event()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect in the background; waits for the first attempt only, never raises."""
        if self._supervisor is not None or self._closed:
            return
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name="wschats-rabbitmq-events"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout + 2 * self._operation_timeout):
                await self._first_attempt_done.wait()

    async def close(self) -> None:
        self._closed = True
        # Connection first: its auto-delete queues go with it, one round trip for all streams.
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        for stream in list(self._streams):
            await stream.close()

    async def health(self) -> bool:
        link = self._link
        return link is not None and link.usable

    # ------------------------------------------------------------------ the port

    async def publish(self, deliveries: Sequence[Delivery]) -> None:
        link = self._link
        if link is None or not link.usable:
            if deliveries:
                log.debug("broker unavailable, dropping %d event(s)", len(deliveries))
            return
        try:
            async with asyncio.timeout(self._operation_timeout):
                for delivery in deliveries:
                    try:
                        body = event_text(delivery.event).encode()
                    except Exception:
                        log.exception("dropping an event that cannot be serialised")
                        continue
                    for user_id in delivery.recipients:
                        exchange = link.exchanges.get(user_id)
                        if exchange is None:
                            exchange = await self._declare_exchange(link.publisher, user_id)
                            link.exchanges[user_id] = exchange
                        # Not mandatory: most users have no open connection, nothing to return.
                        await exchange.publish(
                            aio_pika.Message(body), routing_key="", mandatory=False
                        )
        except Exception as error:
            # Best-effort: the rest of this call's events are dropped, the request goes on.
            log.warning("publishing events failed, dropping them: %r", error)

    async def end_sessions(self, user_id: UUID, session: str | None) -> None:
        # Through the user's exchange, like the events: every process's streams of the user
        # get it, and after any event published before it. Streams of this process end
        # without waiting for the broker (and even if it is down).
        for stream in tuple(self._streams):
            if stream.user_id == user_id and stream.ends_with(session or ALL_SESSIONS):
                stream.end_session()
        message = aio_pika.Message(b"", headers={END_SESSION_HEADER: session or ALL_SESSIONS})
        await self._publish_to(user_id, message)

    async def _publish_to(self, user_id: UUID, message: aio_pika.Message) -> None:
        link = self._link
        if link is None or not link.usable:
            log.debug("broker unavailable, dropping a session end of %s", user_id)
            return
        try:
            async with asyncio.timeout(self._operation_timeout):
                exchange = link.exchanges.get(user_id)
                if exchange is None:
                    exchange = await self._declare_exchange(link.publisher, user_id)
                    link.exchanges[user_id] = exchange
                await exchange.publish(message, routing_key="", mandatory=False)
        except Exception as error:
            log.warning("publishing a session end failed: %r", error)

    async def subscribe(self, user_id: UUID, queue_id: UUID, session: str = "") -> BoundedStream:
        stream = _BrokerStream(user_id, queue_id, self._queue_size, self._release, session)
        if self._closed:
            await stream.close()
            return stream
        self._streams.add(stream)
        link = self._restored
        if link is not None and link.usable:
            try:
                await self._attach(stream, link)
            except Exception as error:
                # The stream stays registered: the reconnection re-attaches it.
                log.warning("subscribing %s failed, reconnecting: %r", stream.queue_name, error)
                link.lost.set()
        # Otherwise the supervisor attaches it once connected; until then it only waits.
        return stream

    # ------------------------------------------------------------------ streams

    async def _declare_exchange(self, channel: AbstractChannel, user_id: UUID) -> AbstractExchange:
        return await channel.declare_exchange(
            str(user_id),
            aio_pika.ExchangeType.DIRECT,
            durable=False,
            auto_delete=False,
            timeout=self._operation_timeout,
        )

    async def _attach(self, stream: _BrokerStream, link: _Link) -> None:
        timeout = self._operation_timeout
        queue = await link.consumer.declare_queue(
            stream.queue_name, durable=False, exclusive=False, auto_delete=True, timeout=timeout
        )
        exchange = await self._declare_exchange(link.consumer, stream.user_id)
        await queue.bind(exchange, routing_key="", timeout=timeout)
        consumer_tag = await queue.consume(stream.on_message, no_ack=True, timeout=timeout)
        if link.lost.is_set():
            return  # the reconnection attaches it again
        stream.link, stream.queue, stream.consumer_tag = link, queue, consumer_tag
        if stream.closed:
            # Closed while being attached: its release found nothing to delete yet.
            await self._delete_queue(stream)

    async def _release(self, stream: BoundedStream) -> None:
        assert isinstance(stream, _BrokerStream)
        self._streams.discard(stream)
        await self._delete_queue(stream)

    async def _delete_queue(self, stream: _BrokerStream) -> None:
        link, queue, consumer_tag = stream.link, stream.queue, stream.consumer_tag
        stream.link, stream.queue, stream.consumer_tag = None, None, None
        if link is None or queue is None or consumer_tag is None or not link.usable:
            # A dropped connection has already taken its auto-delete queues with it.
            return
        try:
            # Cancelling first: a queue deleted under its consumer makes the client log a warning.
            await queue.cancel(consumer_tag, timeout=self._operation_timeout)
            await queue.delete(if_unused=False, if_empty=False, timeout=self._operation_timeout)
        except Exception as error:
            log.warning("deleting queue %s failed: %r", stream.queue_name, error)

    # ------------------------------------------------------------------ connection

    async def _supervise(self) -> None:
        delay = self._reconnect_delay
        while True:
            link: _Link | None = None
            connected = False
            try:
                link = await self._connect()
                self._link = link
                await self._restore(link)
                connected = True
                delay = self._reconnect_delay
                self._first_attempt_done.set()
                log.info("connected to the event broker")
                await link.lost.wait()
                log.warning("lost the event broker connection, reconnecting")
            except Exception as error:
                log.warning("cannot reach the event broker, retrying in %.1fs: %r", delay, error)
                self._first_attempt_done.set()
            finally:
                # Also on cancellation by close(): leave no connection behind.
                if link is not None:
                    await self._disconnect(link)
            await asyncio.sleep(delay)
            if not connected:
                delay = min(delay * 2, self._max_reconnect_delay)

    async def _connect(self) -> _Link:
        async with asyncio.timeout(self._connect_timeout):
            connection = await aio_pika.connect(
                self._url,
                timeout=self._connect_timeout,
                client_properties={"connection_name": self._connection_name},
            )
        try:
            async with asyncio.timeout(self._operation_timeout):
                # No publisher confirms: events are best-effort, as in the original.
                publisher = await connection.channel(publisher_confirms=False)
                consumer = await connection.channel(publisher_confirms=False)
        except BaseException:
            await self._close_connection(connection)
            raise
        link = _Link(connection, publisher, consumer)

        def on_close(*_: Any) -> None:
            link.lost.set()

        # A closed channel is treated as a lost connection: reconnecting resets everything.
        connection.close_callbacks.add(on_close)
        publisher.close_callbacks.add(on_close)
        consumer.close_callbacks.add(on_close)
        return link

    async def _restore(self, link: _Link) -> None:
        """Attach every open stream to a new link, then make it the current one."""
        while True:
            pending = [s for s in self._streams if s.link is not link and not s.closed]
            if not pending:
                break
            for stream in pending:
                if link.lost.is_set():
                    raise ConnectionError("connection lost while restoring streams")
                await self._attach(stream, link)
        # No await between the last check and this: a concurrent subscribe either was in
        # `pending` or sees the link and attaches itself.
        self._restored = link

    async def _disconnect(self, link: _Link) -> None:
        if self._link is link:
            self._link = None
        if self._restored is link:
            self._restored = None
        for stream in self._streams:
            if stream.link is link:
                stream.link, stream.queue, stream.consumer_tag = None, None, None
        await self._close_connection(link.connection)

    async def _close_connection(self, connection: AbstractConnection) -> None:
        try:
            async with asyncio.timeout(self._operation_timeout):
                await connection.close()
        except Exception as error:
            log.debug("closing the broker connection failed: %r", error)
