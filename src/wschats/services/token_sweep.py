"""Deletes expired tokens of the built-in directory: at start-up, then every `interval`."""

from __future__ import annotations

import asyncio
import logging

from wschats.ports import UserDirectory
from wschats.services.background import BackgroundTask

log = logging.getLogger(__name__)


class ExpiredTokenSweep:
    def __init__(self, directory: UserDirectory, interval_seconds: float) -> None:
        self._directory = directory
        self._interval = interval_seconds
        self._task = BackgroundTask(self._run, "wschats-expired-token-sweep")

    def start(self) -> None:
        self._task.start()

    async def close(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self._directory.delete_expired_tokens()
                if deleted:
                    log.info("deleted %d expired token(s)", deleted)
            except Exception as error:
                log.warning("deleting expired tokens failed, retrying later: %r", error)
            await asyncio.sleep(self._interval)
