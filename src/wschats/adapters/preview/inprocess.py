"""The `Previewer` and `PictureNormaliser` ports, served by a pool of worker processes owned
by this server.

Decoding and encoding are CPU-bound and hold the GIL, so they run in processes: the event
loop only hands over a request and a file path and awaits the bytes.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

from wschats.adapters.preview.worker import (
    DEFAULT_MAX_PIXELS,
    RENDERING_MODULES,
    RenderError,
    RenderLimits,
    lower_priority,
    normalise_picture,
    ping,
    render_file,
)
from wschats.domain.errors import BadRequest, Dependency, DependencyFailed
from wschats.domain.previews import PreviewRequest, Rendered

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

_HEALTH_TIMEOUT_SECONDS = 5.0
DEFAULT_PICTURE_MAX_SIDE = 1024


class InProcessPreviewer:
    """previewer_service, embedded.

    `workers` processes render at most `workers` files (previews, or pictures to re-encode)
    at once; further requests wait for a free worker for up to `timeout_seconds`, then get
    424. A render running longer
    than `timeout_seconds` is stopped by replacing the pool (the only way to stop a
    process pool task), which also fails the renders running beside it with 424.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        timeout_seconds: float = 60.0,
        picture_max_side: int = DEFAULT_PICTURE_MAX_SIDE,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if max_pixels < 1:
            raise ValueError("max_pixels must be at least 1")
        if picture_max_side < 1:
            raise ValueError("picture_max_side must be at least 1")
        self._picture_max_side = picture_max_side
        self._workers = workers
        self._limits = RenderLimits(max_pixels=max_pixels)
        self._timeout = timeout_seconds
        self._slots = asyncio.Semaphore(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    async def render(self, request: PreviewRequest, source: Path) -> Rendered:
        return await self._run(f"preview of {source}", render_file, request, source, self._limits)

    async def normalise_picture(self, data: bytes) -> Rendered:
        """The `PictureNormaliser` port: `data` re-encoded in a worker (see pictures.py)."""
        return await self._run(
            "re-encoding a picture", normalise_picture, data, self._picture_max_side, self._limits
        )

    async def _run(self, what: str, function: Callable[..., Rendered], *args: object) -> Rendered:
        """`function(*args)` in a worker, once one is free, within the time limit."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise DependencyFailed(
                Dependency.PREVIEWER, "every preview worker stayed busy; try again later"
            ) from None
        try:
            return await self._in_pool(what, function, *args)
        finally:
            self._slots.release()

    async def _in_pool(
        self, what: str, function: Callable[..., Rendered], *args: object
    ) -> Rendered:
        pool = self._get_pool()
        try:
            future = await self._submit(pool, function, *args)
            async with asyncio.timeout(self._timeout):
                return await asyncio.wrap_future(future)
        except (BadRequest, DependencyFailed):
            raise
        except TimeoutError:
            self._discard_pool(pool, stop_workers=True)
            raise DependencyFailed(
                Dependency.PREVIEWER,
                f"rendering took longer than {self._timeout:g} s and was stopped",
            ) from None
        except BrokenProcessPool:
            self._discard_pool(pool, stop_workers=False)
            raise DependencyFailed(
                Dependency.PREVIEWER, "a preview worker stopped unexpectedly"
            ) from None
        except RenderError as exc:
            raise DependencyFailed(Dependency.PREVIEWER, f"rendering failed: {exc}") from exc
        except Exception as exc:
            _log.exception("%s failed", what)
            raise DependencyFailed(Dependency.PREVIEWER, f"rendering failed: {exc!r}") from exc

    async def health(self) -> bool:
        if self._closed:
            return False
        pool = self._get_pool()
        try:
            future = await self._submit(pool, ping)
            async with asyncio.timeout(_HEALTH_TIMEOUT_SECONDS):
                return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard_pool(pool, stop_workers=False)
            return False
        except (TimeoutError, DependencyFailed):
            return False
        except Exception:
            _log.exception("preview pool health check failed")
            return False

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = _processes_of(pool)  # shutdown() forgets them
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        except TimeoutError:
            for process in processes:
                process.terminate()

    async def _submit(
        self, pool: ProcessPoolExecutor, function: Callable[..., _T], *args: object
    ) -> Future[_T]:
        # Submitting may start a worker process (a fork): then it is done in a thread, off
        # the loop. Once every worker runs, a submit only queues the task, and the hop to a
        # thread cost more than that: it also delayed other requests under load.
        try:
            if len(_processes_of(pool)) >= self._workers:
                return pool.submit(function, *args)
            return await asyncio.to_thread(pool.submit, function, *args)
        except RuntimeError as exc:
            if isinstance(exc, BrokenProcessPool):
                raise
            # Another request replaced the pool between lookup and submit.
            raise DependencyFailed(Dependency.PREVIEWER, "the preview pool restarted") from exc

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise DependencyFailed(Dependency.PREVIEWER, "the previewer is closed")
        if self._pool is None:
            # forkserver: workers do not inherit this process's threads, sockets and loop.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(RENDERING_MODULES))
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=context, initializer=lower_priority
            )
        return self._pool

    def _discard_pool(self, pool: ProcessPoolExecutor, *, stop_workers: bool) -> None:
        """Retire `pool`; the next request starts a new one."""
        if self._pool is pool:
            self._pool = None
            _log.warning("replacing the preview worker pool")
        if stop_workers:
            for process in _processes_of(pool):
                process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)


def _processes_of(pool: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
    # A running pool task cannot be cancelled; stopping its process is the only way (3.14
    # adds ProcessPoolExecutor.terminate_workers() for this).
    return list((pool._processes or {}).values())
