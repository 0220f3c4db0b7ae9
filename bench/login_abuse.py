"""Other users' GET /rooms latency while 50 clients hammer POST /auth/login with wrong
passwords (wrk), against the same probe without the attack, in one run.

Each scenario starts its own `wschats serve` (SQLite) on 127.0.0.1: "limits on" is the default
configuration; "limits off" sets the failed-login limits to 0, so every attempt is hashed and
only the bounded hashing pool stands between the attack and other users.

    .venv/bin/python -m bench.login_abuse [--seconds 20] [--probes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import BIN, free_port, process
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email": "victim%d@example.com", "password": "wrong-%d"}',
                             counter % 20, counter)
  return wrk.format(nil, "/auth/login", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d non-2xx/3xx\\n", summary.requests,
                         summary.errors.status))
end
"""


async def seed(database_url: str) -> str:
    upgrade(database_url)
    database = SqlDatabase(database_url)
    try:
        directory = DirectoryIdentity(database)
        users = [
            NewUser(email=f"victim{i}@example.com", name=f"V{i}", password="right")
            for i in range(20)
        ]
        users.append(NewUser(email="reader@example.com", name="Reader"))
        ids = await directory.add_users(users)
        return await directory.issue_token(ids[-1], 3600)
    finally:
        await database.close()


async def probe(base_url: str, token: str, count: int) -> tuple[list[float], Counter[int]]:
    """Sequential GET /rooms: one light client, like a user's."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for _ in range(count):
            start = time.perf_counter()
            response = await client.get("/rooms", headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[response.status_code] += 1
            await asyncio.sleep(0.02)
    return latencies, statuses


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def scenario(label: str, extra_env: dict[str, str], args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="wsc-login-bench-"))
    try:
        url = f"sqlite:///{work / 'wschats.db'}"
        token = asyncio.run(seed(url))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "WSC_DATA_DIR": str(work),
            "WSC_DATABASE_URL": url,
            "WSC_LOG_LEVEL": "warning",
            **extra_env,
        }
        script = work / "login.lua"
        script.write_text(WRK_SCRIPT)
        with process(
            [str(BIN / "wschats"), "serve", "--port", str(port)], env, base, "/health/live"
        ):
            asyncio.run(probe(base, token, 20))  # warm up
            quiet, quiet_status = asyncio.run(probe(base, token, args.probes))
            wrk = subprocess.Popen(
                ["wrk", "-t2", "-c50", f"-d{args.seconds}s", "-s", str(script), base],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(2)  # the attack is under way
            attacked, attacked_status = asyncio.run(probe(base, token, args.probes))
            out, _ = wrk.communicate(timeout=args.seconds + 60)
        wrk_line = next((line for line in out.splitlines() if line.startswith("wrk:")), "wrk: ?")
        rps_line = next((line.strip() for line in out.splitlines() if "Requests/sec" in line), "")
        print(f"[{label}] {wrk_line.strip()} {rps_line}")
        for name, values, statuses in (
            ("no attack", quiet, quiet_status),
            ("attack", attacked, attacked_status),
        ):
            print(
                f"[{label}] GET /rooms {name:9}: p50 {pct(values, 0.5):6.1f} ms"
                f"  p99 {pct(values, 0.99):6.1f} ms  statuses {dict(statuses)}"
            )
        ratio50 = pct(attacked, 0.5) / pct(quiet, 0.5)
        ratio99 = pct(attacked, 0.99) / pct(quiet, 0.99)
        verdict = "OK" if ratio50 <= 2 else "OVER"
        print(
            f"[{label}] attack/no attack: p50 x{ratio50:.2f}, p99 x{ratio99:.2f}"
            f" (target p50 <= 2x) {verdict}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--probes", type=int, default=300)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    scenario("limits on", {}, args)
    off = {
        "WSC_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS": "0",
        "WSC_LOGIN_FAILURES_PER_ADDRESS": "0",
        "WSC_LOGIN_FAILURES_PER_ACCOUNT": "0",
    }
    scenario("limits off", off, args)


if __name__ == "__main__":
    main()
