"""Per-user request budgets: one token bucket per (user, route group).

A group allowing N requests a minute holds up to N tokens (a burst of a minute's worth) and
regains them at N/60 a second. Pure: the clock is injected and nothing here does I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping
from enum import Enum

# A bucket idle long enough to be full again is dropped (a new one starts full, which is the
# same thing), so memory follows the users active in the last minute, not every user ever seen.
PRUNE_EVERY_SECONDS = 60.0


class RouteGroup(Enum):
    READ = "read"
    WRITE = "write"
    UPLOAD = "upload"


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` tokens a second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        if capacity < 1 or rate <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive rate")
        self.capacity = capacity
        self.rate = rate
        self._tokens = capacity
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = max(self._updated, now)

    def take(self, now: float) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there is one."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def give_back(self, now: float) -> None:
        """Return a token taken by `take` (for an attempt that turned out not to count)."""
        self._refill(now)
        self._tokens = min(self.capacity, self._tokens + 1)

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.capacity


class RateLimiter:
    """Budgets per key (a user id) and route group, from `per_minute` (0 or absent: no limit)."""

    def __init__(
        self,
        per_minute: Mapping[RouteGroup, int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_minute = {group: n for group, n in per_minute.items() if n > 0}
        self._clock = clock
        self._buckets: dict[tuple[Hashable, RouteGroup], TokenBucket] = {}
        self._last_prune = clock()

    @property
    def enabled(self) -> bool:
        return bool(self._per_minute)

    def acquire(self, key: Hashable, group: RouteGroup) -> int:
        """Spend one request of `key` in `group`: 0 if allowed, else whole seconds to wait
        (at least 1) before the next request can succeed."""
        per_minute = self._per_minute.get(group)
        if per_minute is None:
            return 0
        now = self._clock()
        self._prune(now)
        bucket = self._buckets.get((key, group))
        if bucket is None:
            bucket = self._buckets[(key, group)] = TokenBucket(per_minute, per_minute / 60.0, now)
        wait = bucket.take(now)
        if wait == 0:
            return 0
        # Tolerate float noise: 1 / (2/60) is 30.000000000000004, which means 30 seconds.
        return max(1, math.ceil(wait - 1e-6))

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        for key in [k for k, bucket in self._buckets.items() if bucket.is_full(now)]:
            del self._buckets[key]
