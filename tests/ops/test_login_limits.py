"""Abuse of POST /auth/login: failed-login limits across addresses, and the bounded pool that
hashes passwords (adapters/identity/hashing.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.ops.conftest import AppFactory, RunningApp
from wschats.adapters.identity import hashing
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.adapters.identity.hashing import HASHING_NICENESS, PasswordHashPool
from wschats.ports import NewUser

PASSWORD = "the-right-one"
DAY = 24 * 3600.0  # a window no test outlasts: nothing is regained while it runs


async def account(running: RunningApp) -> str:
    email = f"pat-{uuid.uuid4().hex[:6]}@example.com"
    await directory(running).add_users([NewUser(email=email, name="Pat", password=PASSWORD)])
    return email


def directory(running: RunningApp) -> DirectoryIdentity:
    value = running.adapters.directory
    assert isinstance(value, DirectoryIdentity)
    return value


async def login(running: RunningApp, email: str, password: str, address: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=running.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/auth/login", json={"email": email, "password": password})


async def test_many_addresses_against_one_account_spare_its_usual_address(
    make_app: AppFactory,
) -> None:
    async with make_app(login_failures_per_account=5, login_failure_window_seconds=DAY) as running:
        email = await account(running)
        assert (await login(running, email, PASSWORD, "192.0.2.50")).status_code == 200
        for index in range(5):
            failed = await login(running, email, "wrong", f"198.51.100.{index}")
            assert failed.status_code == 401, index
        stranger = await login(running, email, PASSWORD, "198.51.100.200")
        assert stranger.status_code == 429
        assert 1 <= int(stranger.headers["retry-after"]) <= DAY / 5  # 5 a day
        # The account's usual address still gets in.
        assert (await login(running, email, PASSWORD, "192.0.2.50")).status_code == 200


async def test_one_address_trying_many_accounts_is_limited(make_app: AppFactory) -> None:
    async with make_app(login_failures_per_address=3, login_failure_window_seconds=DAY) as running:
        emails = [await account(running) for _ in range(4)]
        for email in emails[:3]:
            assert (await login(running, email, "wrong", "203.0.113.9")).status_code == 401
        refused = await login(running, emails[3], PASSWORD, "203.0.113.9")
        assert refused.status_code == 429 and "retry-after" in refused.headers
        assert (await login(running, emails[3], PASSWORD, "203.0.113.10")).status_code == 200


async def test_limits_at_zero_are_off(make_app: AppFactory) -> None:
    async with make_app(
        login_failures_per_account_and_address=0,
        login_failures_per_address=0,
        login_failures_per_account=0,
    ) as running:
        email = await account(running)
        for _ in range(12):
            assert (await login(running, email, "wrong", "203.0.113.1")).status_code == 401
        assert (await login(running, email, PASSWORD, "203.0.113.1")).status_code == 200


Held = list[asyncio.Task[bool]]


async def hold_workers(pool: PasswordHashPool, count: int) -> tuple[threading.Event, Held]:
    """Occupy `count` hashing workers until the returned event is set."""
    release = threading.Event()
    held = [asyncio.create_task(pool.run(release.wait)) for _ in range(count)]
    await asyncio.sleep(0)  # each task takes its slot and hands its job to a thread
    return release, held


async def test_logins_beyond_the_hashing_pool_get_429_and_other_requests_go_on(
    make_app: AppFactory,
) -> None:
    async with make_app(password_hash_workers=2, password_hash_queue=0) as running:
        email = await account(running)
        other = await running.person()
        release, held = await hold_workers(directory(running).hashing, 2)
        try:
            busy = await login(running, email, PASSWORD, "192.0.2.1")
            assert busy.status_code == 429
            assert busy.headers["retry-after"] == "1"
            assert set(busy.json()) == {"message", "traceId"}
            # Requests that hash nothing are served meanwhile.
            rooms = await running.client.get("/rooms", headers=other.auth)
            assert rooms.status_code == 200
        finally:
            release.set()
            await asyncio.gather(*held)
        # A busy pool is not a failed login: nothing was spent, and the login now works.
        assert (await login(running, email, PASSWORD, "192.0.2.1")).status_code == 200


async def test_a_login_waits_in_the_queue_for_a_free_worker(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "WAIT_SECONDS", 600.0)  # however slow this machine is
    async with make_app(password_hash_workers=1, password_hash_queue=1) as running:
        email = await account(running)
        release, held = await hold_workers(directory(running).hashing, 1)
        waiting = asyncio.create_task(login(running, email, PASSWORD, "192.0.2.1"))
        second = asyncio.create_task(login(running, email, PASSWORD, "192.0.2.2"))
        done, _ = await asyncio.wait([waiting, second], return_when=asyncio.FIRST_COMPLETED)
        # One login waits for the held worker; the queue (1) has no room for the other.
        assert [task.result().status_code for task in done] == [429]
        release.set()
        await asyncio.gather(*held)
        queued = waiting if second in done else second
        assert (await queued).status_code == 200


async def test_hashing_needs_no_thread_of_the_shared_pool(make_app: AppFactory) -> None:
    # The event loop's default thread pool serves other requests' blocking work; a burst of
    # logins used to fill it. With every one of its threads stuck, a login still completes.
    async with make_app() as running:
        email = await account(running)
        loop = asyncio.get_running_loop()
        shared = ThreadPoolExecutor(1)
        loop.set_default_executor(shared)
        stuck = threading.Event()
        blocked = loop.run_in_executor(None, stuck.wait)
        try:
            async with asyncio.timeout(120):  # a guard against a hang, not a measure
                response = await login(running, email, PASSWORD, "192.0.2.1")
            assert response.status_code == 200
        finally:
            stuck.set()
            await blocked


async def test_hashing_threads_run_below_the_event_loop_priority() -> None:
    pool = PasswordHashPool(workers=1, queue=0)
    try:
        hashing_niceness = await pool.run(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    finally:
        pool.close()
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert hashing_niceness == min(19, loop_niceness + HASHING_NICENESS)
