"""Per-user rate limits: a token bucket per user and route group, answering 429."""

from __future__ import annotations

import uuid

from tests.ops.conftest import AppFactory
from wschats.services.ratelimit import RateLimiter, RouteGroup, TokenBucket


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_capacity_at_once_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == 1.0
    assert bucket.take(0.5) == 0.5
    assert bucket.take(1.0) == 0.0
    assert bucket.take(1.0) == 1.0
    assert not bucket.is_full(2.0)
    assert bucket.is_full(100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]  # never above 3


def test_the_limiter_answers_whole_seconds_to_wait_per_user_and_group() -> None:
    clock = ManualClock()
    limiter = RateLimiter({RouteGroup.WRITE: 2, RouteGroup.READ: 0}, clock=clock)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    assert [limiter.acquire(alice, RouteGroup.WRITE) for _ in range(2)] == [0, 0]
    assert limiter.acquire(alice, RouteGroup.WRITE) == 30  # 2 a minute: one every 30 s
    assert limiter.acquire(bob, RouteGroup.WRITE) == 0
    assert all(limiter.acquire(alice, RouteGroup.READ) == 0 for _ in range(100))  # 0: no limit
    assert limiter.acquire(alice, RouteGroup.UPLOAD) == 0  # not configured: no limit
    clock.now += 29.5
    assert limiter.acquire(alice, RouteGroup.WRITE) == 1
    clock.now += 0.5
    assert limiter.acquire(alice, RouteGroup.WRITE) == 0


def test_the_limiter_is_off_when_every_group_is_zero() -> None:
    assert not RateLimiter({group: 0 for group in RouteGroup}).enabled
    assert RateLimiter({RouteGroup.UPLOAD: 1}).enabled


def test_idle_buckets_are_forgotten() -> None:
    clock = ManualClock()
    limiter = RateLimiter({RouteGroup.READ: 60}, clock=clock)
    for _ in range(1000):
        limiter.acquire(uuid.uuid4(), RouteGroup.READ)
    busy = uuid.uuid4()
    for _ in range(60):
        limiter.acquire(busy, RouteGroup.READ)
    assert len(limiter) == 1001
    clock.now += 61  # every one-request bucket is full again; the busy one too, just
    limiter.acquire(busy, RouteGroup.READ)
    assert len(limiter) == 1


async def test_settings_turn_the_limit_on_and_it_answers_429_with_retry_after(
    make_app: AppFactory,
) -> None:
    async with make_app(rate_limit_read_per_minute=1) as running:
        alice = await running.person()
        first = await running.client.get("/rooms", headers=alice.auth)
        second = await running.client.get("/rooms", headers=alice.auth)
        write = await running.client.put(f"/rooms/{uuid.uuid4()}/mute", headers=alice.auth)
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/json"
    assert set(second.json()) == {"message", "traceId"}
    assert 1 <= int(second.headers["retry-after"]) <= 60
    assert write.status_code == 404  # writes are not limited: the room just does not exist


async def test_each_user_and_group_has_its_own_budget_and_it_refills(
    make_app: AppFactory,
) -> None:
    clock = ManualClock()
    async with make_app() as running:
        running.app.state.rate_limiter = RateLimiter(
            {RouteGroup.WRITE: 2, RouteGroup.UPLOAD: 1}, clock=clock
        )
        alice, bob, carol = [await running.person() for _ in range(3)]
        room = await running.group(alice, bob, carol)  # alice's first write
        client = running.client

        assert (await client.put(f"/rooms/{room}/mute", headers=alice.auth)).status_code == 204
        refused = await client.delete(f"/rooms/{room}/mute", headers=alice.auth)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        assert "30 seconds" in refused.json()["message"]
        # Still muted: the refused request changed nothing.
        settings = (await client.get(f"/rooms/{room}", headers=alice.auth)).json()["userSettings"]
        assert settings["muted"] is True

        # Reads, another user, and uploads have budgets of their own.
        assert (await client.get("/rooms", headers=alice.auth)).status_code == 200
        assert (await client.put(f"/rooms/{room}/mute", headers=bob.auth)).status_code == 204
        upload = {"fileName": "a.txt", "mimeType": "text/plain"}
        first = await client.post(
            f"/rooms/{room}/attachments", content=b"x" * 100, headers={**alice.auth, **upload}
        )
        assert first.status_code == 201, first.text
        second = await client.post(
            f"/rooms/{room}/attachments", content=b"x" * 100, headers={**alice.auth, **upload}
        )
        assert second.status_code == 429
        assert second.headers["retry-after"] == "60"

        clock.now += 30
        assert (await client.delete(f"/rooms/{room}/mute", headers=alice.auth)).status_code == 204
