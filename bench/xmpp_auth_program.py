"""One `wschats xmpp-auth` program as one ejabberd extauth worker uses it: a request, then its
answer, then the next (ejabberd 23.01 never sends a program a second request before the
answer). Reports round trips per second and the program's own CPU per request (from
/proc/<pid>/stat), for `auth` with a valid token and for `isuser` of a known user.

The CPU per request is what the sign-in rate of bench/xmpp_signin.py depends on, and unlike
that rate it hardly moves with the load of a shared machine.

    .venv/bin/python -m bench.xmpp_auth_program [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import BIN
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

USERS = 200
YES = struct.pack(">HH", 2, 1)


async def prepare(url: str) -> list[tuple[str, str]]:
    """(user id, token) of USERS new users."""
    upgrade(url)
    database = SqlDatabase(url)
    directory = DirectoryIdentity(database)
    users = [uuid.uuid4() for _ in range(USERS)]
    await directory.add_users([NewUser(id=u, email=f"{u}@x.io", name="B") for u in users])
    accounts = [(str(u), await directory.issue_token(u, 3600)) for u in users]
    await database.close()
    return accounts


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(count: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-xmpp-auth-"))
    url = f"sqlite:///{work / 'wschats.db'}"
    accounts = asyncio.run(prepare(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(WSC_DATABASE_URL=url, WSC_DATA_DIR=str(work))
    program = subprocess.Popen(
        [str(BIN / "wschats"), "xmpp-auth"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    stdin, stdout = program.stdin, program.stdout
    assert stdin is not None and stdout is not None

    def ask(request: str) -> None:
        data = request.encode()
        stdin.write(struct.pack(">H", len(data)) + data)
        stdin.flush()
        assert stdout.read(4) == YES, request

    kinds = {
        "auth (token)": [f"auth:{user}:carbonio:{token}" for user, token in accounts],
        "isuser": [f"isuser:{user}:carbonio" for user, _ in accounts],
    }
    try:
        for requests in kinds.values():  # warm-up: imports, connections, statement caches
            for request in requests:
                ask(request)
        print(f"{count} requests of each kind, one at a time, {os.cpu_count()} CPUs")
        for kind, requests in kinds.items():
            cpu_before, started = cpu_seconds(program.pid), time.perf_counter()
            for index in range(count):
                ask(requests[index % len(requests)])
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(program.pid) - cpu_before
            print(
                f"{kind:>13}: {count / elapsed:7.0f} round trips/s, "
                f"program CPU {cpu / count * 1e6:5.0f} us a request"
            )
    finally:
        stdin.close()
        program.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    main(parser.parse_args().requests)
    sys.exit(0)
