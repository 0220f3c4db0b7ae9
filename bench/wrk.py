"""wrk (a C load generator: it costs the server's CPUs far less than a Python client) run from
the benchmarks, its figures parsed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WRK = shutil.which("wrk") or "/usr/bin/wrk"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors (timeouts included) and answers other than 2xx/3xx

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.rps:8.1f} req/s  p50 {self.p50_ms:8.2f} ms  "
            f"p99 {self.p99_ms:8.2f} ms  requests {self.requests:6d}  errors {self.errors}"
        )


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _lua(method: str, body: bytes | None, paths: list[str] | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {_lua_string(body)}")
    if paths:
        # Each request takes the next path (per wrk thread), for writes that must differ.
        items = ", ".join(_lua_string(p.encode()) for p in paths)
        lines += [
            f"local paths = {{{items}}}",
            "local next_path = 0",
            "request = function()",
            "  next_path = next_path % #paths + 1",
            "  return wrk.format(nil, paths[next_path])",
            "end",
        ]
    return "\n".join(lines) + "\n"


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" for b in data) + '"'


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    paths: list[str] | None = None,
    timeout_s: float = 10.0,
) -> WrkResult:
    """One wrk run against `url` (paths: a request cycle of paths on the same host)."""
    command = [
        WRK, "--latency", "-d", f"{max(1, round(seconds))}s", "-c", str(connections),
        "-t", str(threads), "--timeout", f"{max(1, round(timeout_s))}s",
    ]  # fmt: skip
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as folder:
        if method != "GET" or body is not None or paths:
            script = Path(folder) / "request.lua"
            script.write_text(_lua(method, body, paths))
            command += ["-s", str(script)]
        output = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^ *(\d+)% +([\d.]+[a-z]+) *$", output, re.MULTILINE))
    if "99" not in percentiles or requests == 0:
        raise RuntimeError(f"wrk gave no latency distribution:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return WrkResult(rps, requests, _ms(percentiles["50"]), _ms(percentiles["99"]), errors)
