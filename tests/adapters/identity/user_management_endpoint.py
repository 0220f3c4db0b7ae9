"""A stand-in for the original's user-management HTTP service on 127.0.0.1 that records requests.

User-management needs a whole Carbonio mailbox behind it and cannot be installed here, so its
HTTP side is replaced by this recorder. It answers like user-management does (the SDK's JSON
shapes, 404 for an unknown cookie, unknown ids left out of `/users/`), and it is strict about
the cookie: anything but exactly `ZM_AUTH_TOKEN=<token>` gets 400, so the tests check the wire
format the original used.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wschats.devtools.servers import free_port


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]  # names lowercased

    @property
    def cookie(self) -> str | None:
        return self.headers.get("cookie")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class UserManagementEndpoint:
    url: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> UserInfo JSON
    sessions: dict[str, str] = field(default_factory=dict)  # token -> user id
    requests: list[Recorded] = field(default_factory=list)
    # Answers for the next requests, whatever they ask; then user-management's own behaviour.
    scripted: deque[Answer] = field(default_factory=deque)
    # Every answer, scripted or not, waits this long first (a slow or hung service).
    delay: float = 0.0
    stopping: threading.Event = field(default_factory=threading.Event)

    def add_user(
        self,
        name: str,
        *,
        token: str | None = None,
        user_type: str = "INTERNAL",
        full_name: str | None = "",
    ) -> dict[str, Any]:
        """A user as user-management renders it; `token` becomes a session of theirs."""
        user_id = str(uuid.uuid4())
        info: dict[str, Any] = {
            "id": {"userId": user_id},
            "email": f"{name}@example.com",
            "fullName": name.title() if full_name == "" else full_name,
            "domain": "example.com",
            "status": "ACTIVE",
            "type": user_type,
        }
        self.users[user_id] = info
        if token is not None:
            self.sessions[token] = user_id
        return info

    def answer(
        self,
        status: int,
        body: bytes | Any = b"",
        *,
        delay: float = 0.0,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.scripted.append(Answer(status, raw, delay, headers))

    def take(self) -> list[Recorded]:
        """The requests received so far, forgetting them."""
        taken = list(self.requests)
        self.requests.clear()
        return taken

    def respond(self, recorded: Recorded) -> Answer:
        if self.scripted:
            return self.scripted.popleft()
        parts = urlsplit(recorded.path)
        if recorded.method != "GET":
            return Answer(405)
        if parts.path == "/health/":
            return Answer(200)
        cookie = recorded.cookie or ""
        if not cookie.startswith("ZM_AUTH_TOKEN=") or ";" in cookie:
            return Answer(400)
        caller = self.sessions.get(cookie.removeprefix("ZM_AUTH_TOKEN="))
        if parts.path == "/users/myself/":
            if caller is None:
                return Answer(404)
            return _json({**self.users[caller], "locale": "en"})
        if caller is None:
            return _json([]) if parts.path == "/users/" else Answer(404)
        if parts.path.startswith("/users/id/"):
            found = self.users.get(parts.path.removeprefix("/users/id/"))
            return _json(found) if found is not None else Answer(404)
        if parts.path == "/users/":
            asked = [v for k, v in parse_qsl(parts.query) if k == "userIds"]
            return _json([self.users[i] for i in dict.fromkeys(asked) if i in self.users])
        return Answer(404)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and closed its end is expected here


def _json(value: Any) -> Answer:
    return Answer(200, json.dumps(value).encode(), 0.0, (("Content-Type", "application/json"),))


@contextmanager
def user_management_endpoint() -> Iterator[UserManagementEndpoint]:
    lock = threading.Lock()
    endpoint: UserManagementEndpoint

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the adapter's pooled client expects

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            recorded = Recorded(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
            )
            with lock:
                endpoint.requests.append(recorded)
                answer = endpoint.respond(recorded)
            wait = answer.delay + endpoint.delay
            if wait and endpoint.stopping.wait(wait):
                return
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = _handle  # noqa: N815 (http.server's naming)
        do_POST = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    endpoint = UserManagementEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def nothing_listening() -> str:
    """The URL of a loopback port nobody listens on: user-management is down."""
    return f"http://127.0.0.1:{free_port()}"
