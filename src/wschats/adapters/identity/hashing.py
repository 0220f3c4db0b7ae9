"""Where password hashes are computed: a few threads of their own, at low priority.

An argon2 hash takes tens of milliseconds of CPU on several threads and 64 MiB. Run on the
event loop's shared thread pool, a burst of logins took its threads from the requests that
need them (files, SQLite) and the CPU from the event loop itself: other users' requests
slowed twentyfold. Here at most `workers` hashes run at once, on threads niced below the
event loop (argon2's own threads inherit that), at most `queue` more wait, each for up to
`WAIT_SECONDS`; beyond that a login is refused with 429 and tried again a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from wschats.domain.errors import TooManyRequests

T = TypeVar("T")

WAIT_SECONDS = 2.0
# Linux sets priority per thread: 10 steps lower leaves the event loop most of the CPU while
# both want it.
HASHING_NICENESS = 10
_BUSY = "Too many logins at once: try again in a second"


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the threads stay as they are
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + HASHING_NICENESS))


class PasswordHashPool:
    def __init__(self, workers: int = 1, queue: int = 64) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a hash pool needs a worker and a queue of 0 or more")
        self._executor = ThreadPoolExecutor(
            workers, thread_name_prefix="wschats-hash", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(workers)
        self._queue = queue
        self._waiting = 0

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on a hashing thread; `TooManyRequests` when the pool is full."""
        if self._slots.locked():
            if self._waiting >= self._queue:
                raise TooManyRequests(_BUSY, 1)
            self._waiting += 1
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    await self._slots.acquire()
            except TimeoutError:
                raise TooManyRequests(_BUSY, 1) from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        loop = asyncio.get_running_loop()
        try:
            job = self._executor.submit(function, *args)
        except BaseException:
            self._slots.release()
            raise
        # The slot is free once the thread is, even if the caller has gone (cancelled).
        job.add_done_callback(lambda _: self._release_from_thread(loop))
        return await asyncio.wrap_future(job)

    def _release_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
            loop.call_soon_threadsafe(self._slots.release)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
