"""Deletes expired tokens of the built-in directory: at start-up, then every `interval`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wschats.ports import UserDirectory

log = logging.getLogger(__name__)


class ExpiredTokenSweep:
    def __init__(self, directory: UserDirectory, interval_seconds: float) -> None:
        self._directory = directory
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="wschats-expired-token-sweep"
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self._directory.delete_expired_tokens()
                if deleted:
                    log.info("deleted %d expired token(s)", deleted)
            except Exception as error:
                log.warning("deleting expired tokens failed, retrying later: %r", error)
            await asyncio.sleep(self._interval)
