"""uvicorn is pinned to the versions api/server/bounded_httptools.py was written against.

That module subclasses uvicorn's httptools protocol and reads its per-connection and
per-request state: internals, not an API, which a new uvicorn may rename or drop without
notice. These tests fail when the installed uvicorn is outside the range pyproject.toml
declares, or when uvicorn no longer has a method the protocol overrides or the state it
reads; they do not replace the behaviour tests (tests/ops/test_read_timeouts.py,
tests/api/test_direct_body.py), which would fail too, but less legibly.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from wschats.api.server.bounded_httptools import HeldFlowControl, head_limit_protocol
from wschats.api.server.direct_body import HandoverHost

ROOT = Path(__file__).resolve().parents[2]

# What bounded_httptools and direct_body read on uvicorn's protocol and on its request cycle.
PROTOCOL_STATE = (
    "connections",
    "loop",
    "logger",
    "transport",
    "flow",
    "parser",
    "scheme",
    "scope",
    "headers",
    "cycle",
)
CYCLE_STATE = (
    "scope",
    "transport",
    "body",
    "more_body",
    "keep_alive",
    "disconnected",
    "message_event",
    "response_started",
    "response_complete",
    "waiting_for_100_continue",
)


def uvicorn_requirement() -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    [requirement] = [Requirement(d) for d in dependencies if Requirement(d).name == "uvicorn"]
    return requirement


def test_uvicorn_is_pinned_to_a_range_and_the_installed_one_is_in_it() -> None:
    specifier = uvicorn_requirement().specifier
    assert any(spec.operator in ("<", "==", "~=") for spec in specifier), (
        f"uvicorn{specifier} has no upper bound: bounded_httptools needs its internals"
    )
    installed = Version(version("uvicorn"))
    assert installed in specifier, f"uvicorn {installed} is installed, outside {specifier}"
    for lock in ("requirements.lock", "requirements-test.lock"):
        pinned = re.search(r"^uvicorn(?:\[[^\]]*\])?==(\S+)", (ROOT / lock).read_text(), re.M)
        assert pinned, f"{lock} does not pin uvicorn"
        assert Version(pinned[1]) in specifier, f"{lock} pins uvicorn {pinned[1]}"


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: value
        for name, value in vars(cls).items()
        if callable(value) and not (name.startswith("__") and name.endswith("__"))
    }


def test_every_method_the_protocol_overrides_is_still_uvicorns() -> None:
    bounded = head_limit_protocol(8192)
    own = {name for name in vars(HandoverHost) if not name.startswith("_")}
    for name, method in _methods(bounded).items():
        base = getattr(HttpToolsProtocol, name, None)
        if name.startswith("_") or name in own:
            # Ours alone: uvicorn must not have one of that name that it would call instead.
            assert base is None, f"uvicorn's protocol now has {name}, which ours shadows"
            continue
        assert base is not None, f"uvicorn's protocol no longer has {name}"
        assert _parameters(base) == _parameters(method), f"{name} takes other parameters"
    for name, method in _methods(HeldFlowControl).items():
        base = getattr(FlowControl, name, None)
        assert base is not None, f"uvicorn's FlowControl no longer has {name}"
        assert _parameters(base) == _parameters(method), f"FlowControl.{name} changed"


async def test_uvicorns_protocol_keeps_the_state_ours_reads() -> None:
    """A real request on uvicorn's own protocol, looked at while its body is awaited."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        entered.set()
        await release.wait()
        await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    loop = asyncio.get_running_loop()
    config = Config(app, http="httptools", lifespan="off", log_config=None)
    protocols: list[HttpToolsProtocol] = []

    def protocol() -> HttpToolsProtocol:
        protocols.append(HttpToolsProtocol(config, ServerState(), {}, loop))
        return protocols[-1]

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n")
        # The app runs, or uvicorn answers (an error) or closes without running it.
        waiting = {asyncio.ensure_future(entered.wait()), asyncio.ensure_future(reader.read())}
        done, pending = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        assert entered.is_set(), f"uvicorn did not run the app: {[t.result() for t in done]}"
        [served] = protocols
        missing = [name for name in PROTOCOL_STATE if not hasattr(served, name)]
        assert not missing, f"uvicorn's protocol no longer has {missing}"
        cycle = served.cycle
        missing = [name for name in CYCLE_STATE if not hasattr(cycle, name)]
        assert not missing, f"uvicorn's request cycle no longer has {missing}"
        assert cycle.scope is served.scope  # how ours tells a request from an upgrade
        assert isinstance(served.flow, FlowControl) and hasattr(served.flow, "read_paused")
        assert isinstance(cycle.body, bytearray)
        assert (b"content-length", b"4") in served.headers
        # A direct body replaces the parser with a fresh one of the same type.
        type(served.parser)(served).set_dangerous_leniencies(lenient_data_after_close=True)
        # Our protocol's own state must not take a name uvicorn's uses.
        ours = head_limit_protocol(8192)(config, ServerState(), {}, loop)
        uvicorns = set(vars(served)) | set(vars(cycle))
        taken = {name for name in vars(ours) if name.startswith("_")} & uvicorns
        assert not taken, f"uvicorn now uses {taken}, which bounded_httptools sets"

        release.set()
        writer.write(b"body")
        assert (await reader.readline()).startswith(b"HTTP/1.1 204")
        writer.close()
    finally:
        release.set()
        server.close()
        await server.wait_closed()
