"""What a websocket connection sees, for both event dispatchers (in-process and RabbitMQ).

For RabbitMQ the publishing and the subscribing dispatcher are two instances, as two server
processes would have them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

import pytest

from wschats.adapters.events import StreamClosedError, StreamOverflowError
from wschats.adapters.events.streams import BoundedStream
from wschats.domain.events import Delivery, DomainEvent, RoomUpdated
from wschats.domain.time import format_datetime, utc_now
from wschats.ports import EventDispatcher, EventStream, SessionEndedError

# The `make_pair` fixture (conftest.py): (publishing, subscribing) dispatcher.
PairFactory = Callable[..., Awaitable[tuple[EventDispatcher, EventDispatcher]]]
# The `new_user` fixture (conftest.py): a fresh user id, its broker exchange removed afterwards.
NewUser = Callable[[], UUID]

WAIT = 15.0  # upper bound for any single expected delivery


def updated(name: str) -> RoomUpdated:
    return RoomUpdated(sent_date=utc_now(), room_id=uuid4(), name=name, description=None)


def wire(event: DomainEvent) -> str:
    return json.dumps(event.to_json(), separators=(",", ":"))


async def receive(stream: EventStream) -> str:
    return await asyncio.wait_for(stream.next(), WAIT)


async def receive_json(stream: EventStream, count: int) -> list[dict[str, Any]]:
    return [json.loads(await receive(stream)) for _ in range(count)]


def names(bodies: Sequence[dict[str, Any]]) -> list[str]:
    return [body["name"] for body in bodies]


async def test_stream_gets_the_users_events_as_compact_json(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    alice, bob = new_user(), new_user()
    alice_stream = await subscriber.subscribe(alice, uuid4())
    bob_stream = await subscriber.subscribe(bob, uuid4())
    for_alice, for_bob = updated("Café ☕ «alice»"), updated("bob's")

    await publisher.publish([Delivery(for_alice, (alice,)), Delivery(for_bob, (bob,))])
    closing = updated("last")
    await publisher.publish([Delivery(closing, (alice,))])

    received = await receive(alice_stream)
    assert received == wire(for_alice)
    assert json.loads(received) == {
        "type": "ROOM_UPDATED",
        "sentDate": format_datetime(for_alice.sent_date),
        "roomId": str(for_alice.room_id),
        "name": "Café ☕ «alice»",
    }
    # Bob's event would have come in between: the order per recipient is kept.
    assert await receive(alice_stream) == wire(closing)
    assert await receive(bob_stream) == wire(for_bob)


async def test_every_connection_of_a_user_gets_every_event(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    user = new_user()
    # One connection on each server process, and two on the same one.
    streams = [
        await subscriber.subscribe(user, uuid4()),
        await subscriber.subscribe(user, uuid4()),
        await publisher.subscribe(user, uuid4()),
    ]
    events = [updated("one"), updated("two")]

    await publisher.publish([Delivery(event, (user,)) for event in events])

    for stream in streams:
        assert [await receive(stream), await receive(stream)] == [wire(e) for e in events]


async def test_each_recipient_gets_events_in_publication_order(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    users = [new_user() for _ in range(3)]
    streams = {user: await subscriber.subscribe(user, uuid4()) for user in users}
    # Single-recipient and multi-recipient deliveries, in separate and shared publish calls.
    await publisher.publish([Delivery(updated(f"solo-{i}"), (users[0],)) for i in range(50)])
    for i in range(50):
        await publisher.publish([Delivery(updated(f"all-{i}"), tuple(users))])
    await publisher.publish([Delivery(updated("tail"), (users[2], users[1]))])

    first = names(await receive_json(streams[users[0]], 100))
    assert first == [f"solo-{i}" for i in range(50)] + [f"all-{i}" for i in range(50)]
    for user in users[1:]:
        assert names(await receive_json(streams[user], 51)) == [
            *(f"all-{i}" for i in range(50)),
            "tail",
        ]


async def test_publishing_to_users_without_connections_is_silent(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    user = new_user()
    await publisher.publish([])
    await publisher.publish([Delivery(updated("nobody"), (new_user(), new_user()))])
    await publisher.publish([Delivery(updated("nobody"), ())])
    stream = await subscriber.subscribe(user, uuid4())
    await publisher.publish([Delivery(updated("someone"), (user,))])

    assert names(await receive_json(stream, 1)) == ["someone"]


async def test_closed_stream_ends_and_gets_nothing_more(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    user = new_user()
    closing = await subscriber.subscribe(user, uuid4())
    staying = await subscriber.subscribe(user, uuid4())
    waiting_reader = asyncio.ensure_future(closing.next())
    await asyncio.sleep(0)

    await closing.close()
    await closing.close()  # idempotent

    with pytest.raises(StreamClosedError):
        await asyncio.wait_for(waiting_reader, WAIT)
    await publisher.publish([Delivery(updated("after"), (user,))])
    assert names(await receive_json(staying, 1)) == ["after"]
    with pytest.raises(StreamClosedError):
        await receive(closing)


async def texts_until_ended(stream: EventStream) -> list[str]:
    """Every text the stream still gives, up to its end by `SessionEndedError`."""
    texts: list[str] = []
    with pytest.raises(SessionEndedError):
        for _ in range(100):
            texts.append(await receive(stream))
    return texts


async def test_ending_a_session_ends_its_streams_before_any_later_event(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair()
    user, other = new_user(), new_user()
    ended = [await subscriber.subscribe(user, uuid4(), "s1") for _ in range(2)]
    kept = await subscriber.subscribe(user, uuid4(), "s2")
    other_user_same_key = await subscriber.subscribe(other, uuid4(), "s1")

    await publisher.publish([Delivery(updated("before"), (user, other))])
    await publisher.end_sessions(user, "s1")
    await publisher.publish([Delivery(updated("after"), (user, other))])

    for stream in ended:
        assert "after" not in names([json.loads(t) for t in await texts_until_ended(stream)])
    assert names(await receive_json(kept, 2)) == ["before", "after"]
    assert names(await receive_json(other_user_same_key, 2)) == ["before", "after"]

    await publisher.end_sessions(user, None)  # every session of the user
    await publisher.publish([Delivery(updated("last"), (user,))])
    assert await texts_until_ended(kept) == []


async def test_queue_id_is_the_connections(make_pair: PairFactory, new_user: NewUser) -> None:
    _, subscriber = await make_pair()
    queue_id = uuid4()
    stream = await subscriber.subscribe(new_user(), queue_id)
    assert stream.queue_id == queue_id


async def test_slow_stream_overflows_without_holding_up_others(
    make_pair: PairFactory, new_user: NewUser
) -> None:
    publisher, subscriber = await make_pair(queue_size=5)
    user = new_user()
    slow = await subscriber.subscribe(user, uuid4())
    fast = await subscriber.subscribe(user, uuid4())

    for i in range(12):
        await publisher.publish([Delivery(updated(f"event-{i}"), (user,))])
        assert names(await receive_json(fast, 1)) == [f"event-{i}"]

    await wait_until_closed(slow)
    with pytest.raises(StreamOverflowError):
        await receive(slow)
    with pytest.raises(StreamOverflowError):
        await receive(slow)
    await slow.close()
    # The fast connection keeps receiving, including a burst up to its own bound.
    await publisher.publish([Delivery(updated(f"burst-{i}"), (user,)) for i in range(5)])
    assert names(await receive_json(fast, 5)) == [f"burst-{i}" for i in range(5)]


async def test_dispatcher_close_ends_its_streams(make_pair: PairFactory, new_user: NewUser) -> None:
    _, subscriber = await make_pair()
    stream = await subscriber.subscribe(new_user(), uuid4())
    reader = asyncio.ensure_future(stream.next())
    await asyncio.sleep(0)

    await subscriber.close()

    with pytest.raises(StreamClosedError):
        await asyncio.wait_for(reader, WAIT)
    late = await subscriber.subscribe(new_user(), uuid4())
    with pytest.raises(StreamClosedError):
        await receive(late)


async def test_healthy_when_running(make_pair: PairFactory) -> None:
    publisher, subscriber = await make_pair()
    assert await publisher.health() is True
    assert await subscriber.health() is True


async def wait_until_closed(stream: EventStream) -> None:
    """The overflow happens when the events reach the stream: poll for it, bounded."""
    assert isinstance(stream, BoundedStream)
    async with asyncio.timeout(30):
        while True:
            if stream.closed:
                return
            await asyncio.sleep(0.05)
