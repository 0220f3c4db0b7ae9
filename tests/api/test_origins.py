"""Which `Origin` may open the events websocket, for the request as a proxy forwards it."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from wschats.api.origins import allowed_origins, origin_allowed


def handshake(scheme: str, **headers: str) -> HTTPConnection:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection(
        {"type": "websocket", "scheme": scheme, "path": "/events", "headers": raw}
    )


@pytest.mark.parametrize(
    ("scheme", "headers", "allowed"),
    [
        # Behind nginx with TLS (X-Forwarded-Proto applied: wss), Host without the port.
        ("wss", {"host": "chat.example", "origin": "https://chat.example"}, True),
        ("wss", {"host": "chat.example", "origin": "https://chat.example:8443"}, True),
        ("wss", {"host": "chat.example", "origin": "http://chat.example"}, False),
        ("wss", {"host": "chat.example:8443", "origin": "https://chat.example"}, False),
        ("wss", {"host": "chat.example:443", "origin": "https://Chat.Example"}, True),
        # A proxy that rewrites Host and says the original one.
        (
            "ws",
            {
                "host": "127.0.0.1:10000",
                "x_forwarded_host": "chat.example",
                "origin": "https://chat.example",
            },
            True,
        ),
        (
            "ws",
            {"host": "127.0.0.1:10000", "x_forwarded_host": "chat.example", "origin": "http://x"},
            False,
        ),
        ("ws", {"host": "127.0.0.1:10000", "origin": "http://127.0.0.1:10000"}, True),
        ("ws", {"host": "127.0.0.1:10000", "origin": "http://127.0.0.1:10001"}, False),
        ("ws", {"host": "chat.example", "origin": "https://chat.example.evil"}, False),
        ("ws", {"host": "chat.example", "origin": "null"}, False),
        ("ws", {"host": "chat.example", "origin": "https://chat.example:99999"}, False),
        ("ws", {"host": "[::1", "origin": "http://chat.example"}, False),
        ("ws", {"host": "chat.example"}, True),  # not a browser
    ],
)
def test_own_origin(scheme: str, headers: dict[str, str], allowed: bool) -> None:
    assert origin_allowed(handshake(scheme, **headers), frozenset()) is allowed


def test_allowed_origins_setting() -> None:
    setting = allowed_origins(" https://App.example:443/ , http://dev.local:3000,,bad")
    assert setting == frozenset({"https://app.example", "http://dev.local:3000"})
    other = handshake("ws", host="chat.example", origin="https://app.example")
    assert origin_allowed(other, setting)
    assert not origin_allowed(other, frozenset())
    assert origin_allowed(handshake("ws", host="a", origin="https://b"), allowed_origins("*"))
