"""A stand-in for MongooseIM's GraphQL endpoint on 127.0.0.1 that records every request.

MongooseIM cannot be installed here (no Debian package), so its HTTP side is replaced by this
recorder and the tests check the exact wire format the original used.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lowercased
    body: bytes


@dataclass
class GraphQlEndpoint:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    # Answers for the next requests, in order; then `{"data": {}}`.
    answers: deque[tuple[int, str, bytes]] = field(default_factory=deque)

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.answers.append((status, content_type, body))

    def reset(self) -> None:
        self.requests.clear()
        self.answers.clear()


@contextmanager
def graphql_endpoint() -> Iterator[GraphQlEndpoint]:
    lock = threading.Lock()
    endpoint: GraphQlEndpoint

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                endpoint.requests.append(
                    Recorded(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                status, content_type, answer = (
                    endpoint.answers.popleft()
                    if endpoint.answers
                    else (200, "application/json", b'{"data":{}}')
                )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = _handle  # noqa: N815 (http.server's naming)
        do_POST = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint = GraphQlEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}/api/graphql")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
