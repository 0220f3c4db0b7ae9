"""Health of the service and of the dependencies this deployment uses (DECISIONS.md#health)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from wschats.domain.errors import Dependency

Probe = Callable[[], Awaitable[bool]]


class HealthStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    dependencies: list[tuple[Dependency, bool]]


class HealthService:
    def __init__(self, probes: dict[Dependency, Probe], timeout: float = 5.0) -> None:
        # Only configured dependencies are probed and listed, in the original's order.
        self._probes = [(d, probes[d]) for d in Dependency if d in probes]
        self._timeout = timeout

    async def report(self) -> HealthReport:
        results = await asyncio.gather(*(self._probe(p) for _, p in self._probes))
        dependencies = [(d, ok) for (d, _), ok in zip(self._probes, results, strict=True)]
        if any(not ok and d.required for d, ok in dependencies):
            status = HealthStatus.ERROR
        elif any(not ok for _, ok in dependencies):
            status = HealthStatus.WARN
        else:
            status = HealthStatus.OK
        return HealthReport(status=status, dependencies=dependencies)

    async def _probe(self, probe: Probe) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                return await probe()
        except Exception:
            return False
