"""Prometheus metrics at /metrics: off by default, optionally behind a bearer token."""

from __future__ import annotations

import httpx

from tests.ops.conftest import AppFactory, sample
from wschats.devtools.servers import free_port


async def scrape(client: httpx.AsyncClient, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_are_off_by_default(make_app: AppFactory) -> None:
    async with make_app() as running:
        response = await running.client.get("/metrics")
    assert response.status_code == 404
    assert set(response.json()) == {"message", "traceId"}


async def test_request_counters_and_latency_move_by_route_template(make_app: AppFactory) -> None:
    async with make_app(metrics=True, base_path="/services/chats") as running:
        alice = await running.person()
        before = await scrape(running.client)
        labels = {"method": "GET", "route": "/rooms/{roomId}", "status": "404"}
        assert sample(before, "wschats_http_requests_total", **labels) is None
        for _ in range(3):
            missing = await running.client.get(
                "/services/chats/rooms/00000000-0000-0000-0000-000000000001", headers=alice.auth
            )
            assert missing.status_code == 404
        listed = await running.client.get("/rooms", headers=alice.auth)
        assert listed.status_code == 200
        await running.client.get("/some/random/path")
        after = await scrape(running.client)

    assert sample(after, "wschats_http_requests_total", **labels) == 3
    assert sample(after, "wschats_http_request_duration_seconds_count", **labels) == 3
    rooms = {"method": "GET", "route": "/rooms", "status": "200"}
    assert sample(after, "wschats_http_requests_total", **rooms) == 1
    assert sample(after, "wschats_http_request_duration_seconds_bucket", **rooms, le="+Inf") == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert sample(after, "wschats_http_requests_total", **unmatched) == 1
    assert "00000000-0000-0000-0000-000000000001" not in after
    # The scrapes themselves are counted too (the first one, before the second started).
    scrapes = {"method": "GET", "route": "/metrics", "status": "200"}
    assert sample(after, "wschats_http_requests_total", **scrapes) == 1
    assert sample(after, "wschats_websocket_connections") == 0
    assert sample(after, "wschats_preview_cache_hits_total") == 0
    assert sample(after, "wschats_preview_cache_misses_total") == 0
    assert sample(after, "process_resident_memory_bytes") is not None


async def test_a_metrics_token_is_required_when_set_and_a_user_token_is_not_enough(
    make_app: AppFactory,
) -> None:
    async with make_app(metrics=True, metrics_token="scrape-secret") as running:
        alice = await running.person()
        anonymous = await running.client.get("/metrics")
        wrong = await running.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        user = await running.client.get("/metrics", headers=alice.auth)
        text = await scrape(running.client, "scrape-secret")
    for refused in (anonymous, wrong, user):
        assert refused.status_code == 401
        assert set(refused.json()) == {"message", "traceId"}
        assert "wschats_http_requests_total" not in refused.text
    assert sample(text, "wschats_http_requests_total", method="GET", route="/metrics", status="401")


async def test_outbox_backlog_is_reported_only_with_xmpp(make_app: AppFactory) -> None:
    async with make_app(metrics=True) as running:
        assert sample(await scrape(running.client), "wschats_outbox_backlog") is None

    # An ejabberd that is not there: commands stay in the outbox, waiting.
    unreachable = f"http://127.0.0.1:{free_port()}/api"
    async with make_app(metrics=True, xmpp="ejabberd", xmpp_url=unreachable) as running:
        assert sample(await scrape(running.client), "wschats_outbox_backlog") == 0
        alice, bob, carol = [await running.person() for _ in range(3)]
        await running.group(alice, bob, carol)
        text = await scrape(running.client)
    backlog = sample(text, "wschats_outbox_backlog")
    assert backlog is not None and backlog >= 1
    age = sample(text, "wschats_outbox_oldest_age_seconds")
    assert age is not None and age >= 0
