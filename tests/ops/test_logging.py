"""Structured logs: one JSON line per request, with the trace id that error bodies carry."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ops.conftest import AppFactory
from wschats.api.server.observability import JsonFormatter, TextFormatter

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Lines(logging.Handler):
    """What the `wschats` loggers write, formatted as `wschats serve` writes it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self, **match: Any) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.lines]
        return [e for e in parsed if all(e.get(k) == v for k, v in match.items())]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    logger = logging.getLogger("wschats")
    handler = Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_request_line_carries_route_template_user_status_and_the_error_trace_id(
    make_app: AppFactory, log_lines: Lines
) -> None:
    async with make_app(base_path="/services/chats") as running:
        alice = await running.person()
        missing = uuid.uuid4()
        response = await running.client.get(f"/services/chats/rooms/{missing}/", headers=alice.auth)
    assert response.status_code == 404
    trace = response.json()["traceId"]
    assert response.headers["x-trace-id"] == trace

    (line,) = log_lines.entries(logger="wschats.requests", traceId=trace)
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert ISO_UTC.match(line["timestamp"])
    assert line["method"] == "GET"
    assert line["route"] == "/rooms/{roomId}"  # the template, without the base path
    assert str(missing) not in json.dumps(line)
    assert line["status"] == 404
    assert line["user"] == str(alice.id)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


async def test_an_anonymous_request_is_logged_without_a_user(
    make_app: AppFactory, log_lines: Lines
) -> None:
    async with make_app() as running:
        response = await running.client.get("/rooms")
    assert response.status_code == 401
    (line,) = log_lines.entries(logger="wschats.requests", traceId=response.json()["traceId"])
    assert line["user"] is None
    assert (line["route"], line["status"]) == ("/rooms", 401)


async def test_a_path_no_route_matches_is_logged_without_a_route(
    make_app: AppFactory, log_lines: Lines
) -> None:
    async with make_app() as running:
        response = await running.client.get("/no/such/thing")
    assert response.status_code == 404
    (line,) = log_lines.entries(logger="wschats.requests", traceId=response.json()["traceId"])
    assert line["route"] is None


async def test_an_unexpected_error_is_logged_with_the_trace_id_of_its_500(
    make_app: AppFactory, log_lines: Lines
) -> None:
    async with make_app(base_path="/services/chats") as running:

        async def broken() -> None:
            raise RuntimeError("the disk caught fire")

        # A route that fails the way a bug would, through the real error handling.
        running.app.add_api_route("/broken", broken)
        response = await running.client.get("/services/chats/broken/")
    assert response.status_code == 500
    body = response.json()
    assert body["message"] == "Internal server error"
    assert "fire" not in response.text  # no internals leak to the client

    errors = log_lines.entries(level="ERROR", traceId=body["traceId"])
    assert len(errors) == 1
    assert "RuntimeError: the disk caught fire" in errors[0]["exception"]
    (line,) = log_lines.entries(logger="wschats.requests", traceId=body["traceId"])
    assert (line["route"], line["status"]) == ("/broken", 500)


async def test_every_record_written_during_a_request_carries_its_trace_id(
    make_app: AppFactory, log_lines: Lines
) -> None:
    async with make_app() as running:

        async def chatty() -> dict[str, str]:
            logging.getLogger("wschats.services.something").warning("something happened")
            return {}

        running.app.add_api_route("/chatty", chatty)
        response = await running.client.get("/chatty")
    assert response.status_code == 200
    (record,) = log_lines.entries(message="something happened")
    assert record["traceId"] == response.headers["x-trace-id"]
    assert record["level"] == "WARNING"


def test_text_format_puts_the_fields_after_the_message() -> None:
    record = logging.LogRecord("wschats.requests", logging.INFO, __file__, 1, "request", (), None)
    record.traceId = "abc123"
    record.fields = {"method": "GET", "route": "/rooms", "status": 200}
    line = TextFormatter().format(record)
    assert line.endswith(
        "INFO wschats.requests: request method=GET route=/rooms status=200 traceId=abc123"
    )


@pytest.mark.parametrize(
    "value",
    [2**70, "é ✓ 日本", uuid.UUID(int=7), {"nested": [1, None, True]}, object()],
    ids=["int-over-64-bits", "non-ascii", "uuid", "nested", "unknown-type"],
)
def test_a_json_line_is_written_whatever_a_field_holds(value: Any) -> None:
    record = logging.LogRecord("wschats.test", logging.INFO, __file__, 1, "hé", None, None)
    record.fields = {"value": value}

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "hé"
    expected = value if isinstance(value, int | str | dict) else str(value)
    assert entry["value"] == expected
