"""RabbitMQ adapter: the original's topology on the wire, broker failures and reconnection.

Disconnections are forced with `rabbitmqctl close_connection` on this test's own connections
only (found by their connection name), so other users of the broker are not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import aio_pika.exceptions
import pytest

from wschats.adapters.events import RabbitMqEventDispatcher
from wschats.domain.events import Delivery, DomainEvent, RoomMuted, RoomUpdated
from wschats.domain.time import utc_now
from wschats.ports import EventStream

# The `rabbit_factory` fixture (conftest.py): a started dispatcher, closed after the test.
RabbitFactory = Callable[..., Awaitable[RabbitMqEventDispatcher]]
# The `new_user` fixture (conftest.py): a fresh user id, its broker exchange removed afterwards.
NewUser = Callable[[], UUID]

WAIT = 15.0  # upper bound for any single expected delivery
RECOVERY = 30.0  # upper bound for a reconnection to take effect


def updated(name: str) -> RoomUpdated:
    return RoomUpdated(sent_date=utc_now(), room_id=uuid4(), name=name, description=None)


def wire(event: DomainEvent) -> bytes:
    return json.dumps(event.to_json(), separators=(",", ":")).encode()


async def receive_json(stream: EventStream) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(await asyncio.wait_for(stream.next(), WAIT))
    return body


@pytest.fixture
async def raw_channel(rabbitmq_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain client, standing for the original's server or an inspecting operator."""
    connection = await aio_pika.connect(rabbitmq_url, timeout=10)
    try:
        yield await connection.channel()
    finally:
        await asyncio.wait_for(connection.close(), 10)


async def queue_exists(url: str, name: str) -> bool:
    """Passive declare, on a throwaway connection since a failure closes the channel."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True, timeout=10)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        return True
    finally:
        await asyncio.wait_for(connection.close(), 10)


async def rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def connection_pids(name: str) -> list[str]:
    listing = await rabbitmqctl(
        "--no-table-headers", "list_connections", "pid", "client_properties"
    )
    marker = f'{{"connection_name","{name}"}}'
    return [line.split("\t")[0] for line in listing.splitlines() if marker in line]


async def force_disconnect(name: str) -> str:
    """Close the named broker connection from the broker side; returns its pid."""
    (pid,) = await connection_pids(name)
    await rabbitmqctl("close_connection", pid, "wschats test: forced disconnection")
    return pid


async def named(factory: RabbitFactory) -> tuple[RabbitMqEventDispatcher, str]:
    name = f"wschats-test-{uuid4()}"
    return await factory(connection_name=name), name


async def publish_until_received(
    publisher: RabbitMqEventDispatcher, user: UUID, stream: EventStream
) -> set[str]:
    """Publish probes until one arrives: those sent while reconnecting are lost by design.

    Returns the probes' room ids, so later reads can skip the ones still on their way.
    """
    probes: set[str] = set()
    async with asyncio.timeout(RECOVERY):
        while True:
            probe = RoomMuted(sent_date=utc_now(), room_id=uuid4())
            probes.add(str(probe.room_id))
            await publisher.publish([Delivery(probe, (user,))])
            with contextlib.suppress(TimeoutError):
                body = json.loads(await asyncio.wait_for(stream.next(), 0.5))
                assert body["type"] == "ROOM_MUTED"
                assert body["roomId"] in probes
                return probes


async def receive_skipping_probes(stream: EventStream, count: int) -> list[str]:
    result: list[str] = []
    while len(result) < count:
        body = await receive_json(stream)
        if body["type"] != "ROOM_MUTED":
            result.append(body["name"])
    return result


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll until `check()` holds, for at most RECOVERY seconds."""
    async with asyncio.timeout(RECOVERY):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def get_one(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    async with asyncio.timeout(WAIT):
        while True:
            message = await queue.get(timeout=WAIT, fail=False)
            if message is not None:
                return message
            await asyncio.sleep(0.05)


# ------------------------------------------------------------------ topology on the wire


async def test_publishes_to_the_users_direct_exchange_like_the_original(
    rabbit_factory: RabbitFactory, raw_channel: aio_pika.abc.AbstractChannel, new_user: NewUser
) -> None:
    publisher = await rabbit_factory()
    alice, bob = new_user(), new_user()
    event = updated("Ünïcode ✓")
    await publisher.publish([Delivery(event, (alice, bob))])  # declares both exchanges

    # The exchanges have the original's flags: re-declaring them so succeeds, differently fails.
    exchange = await raw_channel.declare_exchange(
        str(alice), aio_pika.ExchangeType.DIRECT, durable=False, auto_delete=False, timeout=10
    )
    probe = await raw_channel.declare_queue(exclusive=True, timeout=10)
    await probe.bind(exchange, routing_key="", timeout=10)
    await publisher.publish([Delivery(event, (bob, alice))])

    message = await get_one(probe)
    assert message.body == wire(event)
    assert message.exchange == str(alice)
    assert message.routing_key == ""
    await message.ack()
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await raw_channel.declare_exchange(
            str(bob), aio_pika.ExchangeType.DIRECT, durable=True, timeout=10
        )


async def test_events_for_users_without_connections_are_dropped_quietly(
    rabbit_factory: RabbitFactory, new_user: NewUser, caplog: pytest.LogCaptureFixture
) -> None:
    """Most users have no open connection: the broker must not bounce their events back."""
    dispatcher = await rabbit_factory()
    listener = new_user()
    stream = await dispatcher.subscribe(listener, uuid4())
    caplog.set_level(logging.WARNING)

    await dispatcher.publish([Delivery(updated("nobody"), (new_user(), new_user()))])
    # Same connection, later publish: anything bounced would have come back before this.
    await dispatcher.publish([Delivery(updated("listener"), (listener,))])
    assert (await receive_json(stream))["name"] == "listener"

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_subscription_queue_is_named_and_flagged_like_the_original(
    rabbit_factory: RabbitFactory,
    rabbitmq_url: str,
    raw_channel: aio_pika.abc.AbstractChannel,
    new_user: NewUser,
) -> None:
    subscriber = await rabbit_factory()
    user, queue_id = new_user(), uuid4()
    stream = await subscriber.subscribe(user, queue_id)

    # Equivalent declaration succeeds (non-durable, auto-delete, not exclusive) ...
    await raw_channel.declare_queue(
        f"{user}/{queue_id}", durable=False, auto_delete=True, timeout=10
    )
    # ... and a message the original's server publishes to the user's exchange arrives as is.
    exchange = await raw_channel.get_exchange(str(user), ensure=True)
    body = b'{"type":"ROOM_DELETED","sentDate":"2024-01-01T00:00:00.000Z","roomId":"x"}'
    await exchange.publish(aio_pika.Message(body), routing_key="")
    assert await asyncio.wait_for(stream.next(), WAIT) == body.decode()
    await stream.close()


async def test_closing_the_stream_deletes_its_queue(
    rabbit_factory: RabbitFactory, rabbitmq_url: str, new_user: NewUser
) -> None:
    subscriber = await rabbit_factory()
    user, queue_id = new_user(), uuid4()
    stream = await subscriber.subscribe(user, queue_id)
    assert await queue_exists(rabbitmq_url, f"{user}/{queue_id}")

    await stream.close()

    assert not await queue_exists(rabbitmq_url, f"{user}/{queue_id}")


async def test_overflowing_stream_deletes_its_queue(
    rabbit_factory: RabbitFactory, rabbitmq_url: str, new_user: NewUser
) -> None:
    subscriber = await rabbit_factory(queue_size=2)
    user, queue_id = new_user(), uuid4()
    await subscriber.subscribe(user, queue_id)

    await subscriber.publish([Delivery(updated(f"e{i}"), (user,)) for i in range(5)])

    async def queue_deleted() -> bool:
        return not await queue_exists(rabbitmq_url, f"{user}/{queue_id}")

    await eventually(queue_deleted)


async def test_closing_the_dispatcher_deletes_its_queues_and_connection(
    rabbit_factory: RabbitFactory, rabbitmq_url: str, new_user: NewUser
) -> None:
    subscriber, name = await named(rabbit_factory)
    user, queue_id = new_user(), uuid4()
    await subscriber.subscribe(user, queue_id)
    assert len(await connection_pids(name)) == 1

    await subscriber.close()

    assert await subscriber.health() is False
    assert not await queue_exists(rabbitmq_url, f"{user}/{queue_id}")
    assert await connection_pids(name) == []


# ------------------------------------------------------------------ broker unavailable


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_unreachable_broker_never_fails_or_blocks_callers(
    rabbit_factory: RabbitFactory,
) -> None:
    dispatcher = await asyncio.wait_for(
        rabbit_factory(f"amqp://guest:guest@127.0.0.1:{closed_port()}/", connect_timeout=1.0),
        WAIT,
    )
    user = uuid4()

    assert await dispatcher.health() is False
    await asyncio.wait_for(dispatcher.publish([Delivery(updated("lost"), (user,))]), WAIT)
    stream = await asyncio.wait_for(dispatcher.subscribe(user, uuid4()), WAIT)
    assert stream.queue_id is not None
    await asyncio.wait_for(stream.close(), WAIT)
    assert await dispatcher.health() is False


async def test_silent_broker_times_out_instead_of_hanging(
    rabbit_factory: RabbitFactory,
) -> None:
    """A peer that accepts TCP connections but never speaks AMQP."""
    accepted: list[asyncio.StreamWriter] = []

    async def mute(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        dispatcher = await asyncio.wait_for(
            rabbit_factory(
                f"amqp://guest:guest@127.0.0.1:{port}/",
                connect_timeout=0.5,
                operation_timeout=0.5,
            ),
            WAIT,
        )
        assert accepted, "the dispatcher did not even try to connect"
        assert await dispatcher.health() is False
        await asyncio.wait_for(dispatcher.publish([Delivery(updated("x"), (uuid4(),))]), WAIT)
        await asyncio.wait_for(dispatcher.close(), WAIT)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_connects_once_the_broker_comes_up(
    rabbit_factory: RabbitFactory, rabbitmq_url: str, new_user: NewUser
) -> None:
    """Started while the broker is unreachable: streams opened meanwhile work once it is up.

    The broker "comes up" as a TCP relay to the real one that starts accepting later.
    """
    relay_port = closed_port()
    subscriber = await rabbit_factory(
        f"amqp://guest:guest@127.0.0.1:{relay_port}/", connect_timeout=1.0
    )
    publisher = await rabbit_factory()
    user = new_user()
    stream = await subscriber.subscribe(user, uuid4())
    assert await subscriber.health() is False

    async with tcp_relay(relay_port, 5672):
        await eventually(subscriber.health)
        await publish_until_received(publisher, user, stream)
        await publisher.publish([Delivery(updated("after start"), (user,))])
        assert await receive_skipping_probes(stream, 1) == ["after start"]


@contextlib.asynccontextmanager
async def tcp_relay(listen_port: int, target_port: int) -> AsyncIterator[None]:
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        for task in (
            asyncio.ensure_future(pipe(client_r, server_w)),
            asyncio.ensure_future(pipe(server_r, client_w)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(relay, "127.0.0.1", listen_port)
    try:
        yield
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


# ------------------------------------------------------------------ reconnection


async def test_existing_stream_resumes_after_its_connection_is_dropped(
    rabbit_factory: RabbitFactory, rabbitmq_url: str, new_user: NewUser
) -> None:
    publisher = await rabbit_factory()
    subscriber, subscriber_name = await named(rabbit_factory)
    user, other = new_user(), new_user()
    stream = await subscriber.subscribe(user, uuid4())
    other_stream = await subscriber.subscribe(other, uuid4())
    await publisher.publish([Delivery(updated("before"), (user,))])
    assert await receive_skipping_probes(stream, 1) == ["before"]

    old_pid = await force_disconnect(subscriber_name)

    await publish_until_received(publisher, user, stream)
    (new_pid,) = await connection_pids(subscriber_name)
    assert new_pid != old_pid
    await publisher.publish([Delivery(updated(f"after-{i}"), (user,)) for i in range(3)])
    assert await receive_skipping_probes(stream, 3) == ["after-0", "after-1", "after-2"]
    # Every stream was re-attached, not only the first one, and new streams work too.
    late = await subscriber.subscribe(user, uuid4())
    await publisher.publish([Delivery(updated("to both"), (user, other))])
    assert (await receive_json(other_stream))["name"] == "to both"
    assert (await receive_json(late))["name"] == "to both"
    assert await receive_skipping_probes(stream, 1) == ["to both"]


async def test_publisher_reconnects_after_its_connection_is_dropped(
    rabbit_factory: RabbitFactory, new_user: NewUser
) -> None:
    publisher, publisher_name = await named(rabbit_factory)
    subscriber = await rabbit_factory()
    user = new_user()
    stream = await subscriber.subscribe(user, uuid4())

    old_pid = await force_disconnect(publisher_name)

    # Publishing around the disconnection neither fails nor blocks (the event may be lost).
    await asyncio.wait_for(publisher.publish([Delivery(updated("maybe"), (user,))]), WAIT)
    await eventually(publisher.health)
    await publish_until_received(publisher, user, stream)
    (new_pid,) = await connection_pids(publisher_name)
    assert new_pid != old_pid
    await publisher.publish([Delivery(updated("back"), (user,))])
    names = await receive_skipping_probes(stream, 1)
    if names == ["maybe"]:
        names += await receive_skipping_probes(stream, 1)
    assert names[-1] == "back"


async def test_recovers_when_a_users_exchange_is_deleted_behind_its_back(
    rabbit_factory: RabbitFactory, raw_channel: aio_pika.abc.AbstractChannel, new_user: NewUser
) -> None:
    """The publisher caches declared exchanges: a stale entry must not stop publishing.

    Publishing to a deleted exchange makes the broker close the channel; connections opened
    afterwards for that user re-create the exchange and must receive events again.
    """
    publisher, subscriber = await rabbit_factory(), await rabbit_factory()
    user = new_user()
    stream = await subscriber.subscribe(user, uuid4())
    await publisher.publish([Delivery(updated("cached"), (user,))])
    assert await receive_skipping_probes(stream, 1) == ["cached"]

    await raw_channel.exchange_delete(str(user), timeout=10)
    await asyncio.wait_for(publisher.publish([Delivery(updated("void"), (user,))]), WAIT)
    await stream.close()
    reopened = await subscriber.subscribe(user, uuid4())

    await publish_until_received(publisher, user, reopened)
    await publisher.publish([Delivery(updated("again"), (user,))])
    assert await receive_skipping_probes(reopened, 1) == ["again"]
    assert await publisher.health() is True
