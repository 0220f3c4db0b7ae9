"""A real S3 wire implementation for tests: moto's server, in a child process.

In a child process because moto keeps objects in its own memory: in the test process it would
distort memory measurements of the storage adapters.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """http://127.0.0.1:<port> of a moto S3 server in a child process (ends with stdin)."""
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-c", _MOTO_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    assert server.stdin is not None and server.stdout is not None
    try:
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
