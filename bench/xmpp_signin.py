"""XMPP sign-ins per second through `wschats xmpp-auth`, against ejabberd's own passwords.

One private ejabberd (scripts/ejabberd.sh, a throw-away instance on free ports) signs in two
kinds of accounts in the same run, in alternating rounds:
- baseline: accounts registered in ejabberd with an internal password;
- wschats: accounts of the wschats database, signing in with a wschats token (ejabberd asks
  `wschats xmpp-auth`, no cache), and, for information, with the user's own password.

A sign-in is a real client sign-in over TCP: stream header, SASL PLAIN, and the server's
<success/>. Target: wschats token sign-ins at least 50 % of the baseline's rate.

    .venv/bin/python -m bench.xmpp_signin [--signins 600] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, free_port
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

HOST = "carbonio"
STREAM = (
    "<?xml version='1.0'?><stream:stream to='{host}' version='1.0' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams'>"
)
TARGET = 0.5
STEP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Credential:
    user: str
    password: str


async def _read_until(reader: asyncio.StreamReader, *markers: bytes) -> bytes:
    data = b""
    while not any(m in data for m in markers):
        chunk = await asyncio.wait_for(reader.read(4096), STEP_TIMEOUT_S)
        if not chunk:
            raise ConnectionError(f"closed after {data[-200:]!r}")
        data += chunk
    return data


async def sign_in(port: int, credential: Credential) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(STREAM.format(host=HOST).encode())
        await _read_until(reader, b"</stream:features>")
        plain = base64.b64encode(f"\0{credential.user}\0{credential.password}".encode())
        writer.write(
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
            + plain
            + b"</auth>"
        )
        answer = await _read_until(reader, b"<success", b"<failure")
        return b"<success" in answer
    finally:
        writer.write(b"</stream:stream>")
        writer.close()
        await writer.wait_closed()


async def rate(port: int, credentials: Sequence[Credential], concurrency: int) -> float:
    """Sign-ins per second: every credential once, `concurrency` at a time."""
    queue = list(credentials)
    failures: list[str] = []

    async def worker() -> None:
        while queue:
            credential = queue.pop()
            if not await sign_in(port, credential):
                failures.append(credential.user)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} sign-ins refused, e.g. {failures[0]}")
    return len(credentials) / elapsed


def ejabberd(command: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "ejabberd.sh"), command], env=env, check=True, timeout=900
    )


async def main(signins: int, concurrency: int, rounds: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-xmpp-signin-"))
    url = f"sqlite:///{work / 'wschats.db'}"
    upgrade(url)
    database = SqlDatabase(url)
    directory = DirectoryIdentity(database)
    users = [uuid.uuid4() for _ in range(signins)]
    await directory.add_users([NewUser(id=u, email=f"{u}@x.io", name="B") for u in users[:50]])
    # Passwords only for a few: hashing them is the slow part of preparing.
    await directory.add_users(
        [NewUser(id=u, email=f"{u}@x.io", name="B", password="pw") for u in users[50:60]]
    )
    await directory.add_users([NewUser(id=u, email=f"{u}@x.io", name="B") for u in users[60:]])
    tokens = [Credential(f"{u}", await directory.issue_token(u, 3600)) for u in users]
    passwords = [Credential(f"{u}", "pw") for u in users[50:60]]
    await database.close()

    c2s, api = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env.update(
        WSC_EJABBERD_DIR=str(work / "ejabberd"),
        WSC_EJABBERD_C2S_PORT=str(c2s),
        WSC_EJABBERD_HTTP_PORT=str(api),
        WSC_EJABBERD_FRESH="1",
        WSC_DATABASE_URL=url,
        WSC_DATA_DIR=str(work),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    ejabberd("start", env)
    try:
        internal = [Credential(f"internal-{i}", f"secret-{i}") for i in range(signins)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api}/api/") as admin:
            for credential in internal:
                registered = await admin.post(
                    "register",
                    json={"user": credential.user, "host": HOST, "password": credential.password},
                )
                registered.raise_for_status()
        # Warm-up: the first sign-ins start ejabberd's auth programs.
        await rate(c2s, internal[:20], concurrency)
        await rate(c2s, tokens[:20], concurrency)
        print(f"{signins} sign-ins per round and kind, {concurrency} at a time, {rounds} rounds")
        print(f"{'round':>5} {'internal/s':>11} {'token/s':>9} {'ratio':>6} {'password/s':>11}")
        ratios = []
        for index in range(1, rounds + 1):
            baseline = await rate(c2s, internal, concurrency)
            through_wschats = await rate(c2s, tokens, concurrency)
            with_password = await rate(c2s, passwords, min(concurrency, len(passwords)))
            ratios.append(through_wschats / baseline)
            print(
                f"{index:>5} {baseline:>11.0f} {through_wschats:>9.0f} "
                f"{through_wschats / baseline:>6.0%} {with_password:>11.1f}"
            )
        worst = min(ratios)
        verdict = "OK" if worst >= TARGET else "BELOW TARGET"
        print(
            f"token sign-ins: worst round {worst:.0%} of internal "
            f"(target >= {TARGET:.0%}) {verdict}"
        )
        return 0 if worst >= TARGET else 1
    finally:
        ejabberd("stop", env)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.signins, arguments.concurrency, arguments.rounds)))
