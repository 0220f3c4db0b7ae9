"""Prometheus metrics of one server process, served at /metrics when `WSC_METRICS` is on.

Each app has its own registry (several apps can live in one test process). With several
processes, scrape each process on its own port: the numbers are per process.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from wschats.api.errors import error_response
from wschats.domain.time import utc_now

log = logging.getLogger(__name__)

# (number of commands waiting, when the oldest was recorded): SqlOutboxQueue.backlog.
OutboxBacklog = Callable[[], Awaitable[tuple[int, datetime | None]]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# Requests no route matched (404s for arbitrary paths) share one label value.
UNMATCHED_ROUTE = "unmatched"


class _OutboxCollector(Collector):
    """Reports the last outbox reading; nothing at all in deployments without XMPP."""

    def __init__(self) -> None:
        self.size: float | None = None
        self.oldest_age: float | None = None

    def collect(self) -> Iterator[Metric]:
        if self.size is None:
            return
        yield GaugeMetricFamily(
            "wschats_outbox_backlog",
            "XMPP commands recorded and not yet delivered to the chat server",
            value=self.size,
        )
        yield GaugeMetricFamily(
            "wschats_outbox_oldest_age_seconds",
            "Age of the oldest undelivered XMPP command (0 when none waits)",
            value=self.oldest_age if self.oldest_age is not None else math.nan,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        labels = ("method", "route", "status")
        self._requests = Counter(
            "wschats_http_requests", "HTTP requests answered", labels, registry=self.registry
        )
        self._latency = Histogram(
            "wschats_http_request_duration_seconds",
            "Time from the request to the end of its response",
            labels,
            registry=self.registry,
        )
        self._websockets = Gauge(
            "wschats_websocket_connections", "Open event websockets", registry=self.registry
        )
        self._preview_hits = Counter(
            "wschats_preview_cache_hits", "Previews served from the cache", registry=self.registry
        )
        self._preview_misses = Counter(
            "wschats_preview_cache_misses",
            "Previews that had to be rendered",
            registry=self.registry,
        )
        self._outbox = _OutboxCollector()
        self.registry.register(self._outbox)
        self._outbox_source: OutboxBacklog | None = None

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        labels = (
            method if method in _METHODS else "other",
            route or UNMATCHED_ROUTE,
            str(status),
        )
        self._requests.labels(*labels).inc()
        self._latency.labels(*labels).observe(seconds)

    def websocket_opened(self) -> None:
        self._websockets.inc()

    def websocket_closed(self) -> None:
        self._websockets.dec()

    def count_preview_lookup(self, hit: bool) -> None:
        """The preview cache hook: call with True when a preview came from the cache, False
        when it had to be rendered."""
        (self._preview_hits if hit else self._preview_misses).inc()

    def watch_outbox(self, backlog: OutboxBacklog) -> None:
        """Read the XMPP outbox at each scrape (only deployments with XMPP have one)."""
        self._outbox_source = backlog

    async def render(self) -> bytes:
        await self._read_outbox()
        return generate_latest(self.registry)

    async def _read_outbox(self) -> None:
        if self._outbox_source is None:
            return
        try:
            size, oldest = await self._outbox_source()
        except Exception as error:  # a scrape must still answer when the database does not
            log.warning("could not read the outbox backlog: %s", error)
            self._outbox.size, self._outbox.oldest_age = math.nan, math.nan
            return
        self._outbox.size = float(size)
        if oldest is None:
            self._outbox.oldest_age = 0.0
        else:
            aware = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            self._outbox.oldest_age = max(0.0, (utc_now() - aware).total_seconds())


def install_metrics(app: FastAPI, metrics: Metrics, token: str | None) -> None:
    """Serve `metrics` at /metrics: open, or only with `Authorization: Bearer <token>`.

    Never behind user authentication: a scraper is not a chat user.
    """

    async def scrape(request: Request) -> Response:
        if token is not None and not _bearer_matches(request, token):
            return error_response(request, 401, "The metrics need the metrics bearer token")
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )
