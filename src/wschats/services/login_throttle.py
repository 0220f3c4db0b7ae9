"""Limits on failed logins, so that passwords cannot be guessed at the server's speed.

Failures are counted in three token buckets, each holding N failures and regaining N over the
window (a burst of N, then one every window/N seconds):
- per account and client address (strict): one address guessing one account's password;
- per client address: one address trying many accounts;
- per account (looser): many addresses guessing one account.
The last two are limits others can spend for a user (an attacker elsewhere, or behind the same
shared address), so an address that logged into an account successfully within the last day is
held to the first limit only for that account: nobody can lock a user out of the address they
usually log in from.

An attempt takes a token from each of its buckets before the password is checked (so parallel
attempts cannot overrun a limit), and is refused with the wait when one is empty; an attempt
that succeeds, or fails for another reason than a wrong password, gives its tokens back.
Pure: the clock is injected and nothing here does I/O. Counts live in one process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wschats.domain.errors import TooManyRequests
from wschats.services.ratelimit import TokenBucket

# How long a successful login exempts its address from the per-account limit.
TRUSTED_SECONDS = 24 * 3600.0
# Full buckets are dropped this often; above MAX_TRACKED keys the oldest are forgotten (a
# flood of made-up accounts costs memory up to this bound, not more).
PRUNE_EVERY_SECONDS = 60.0
MAX_TRACKED = 100_000

Key = tuple[str, str, str]  # scope, account, address


@dataclass(frozen=True)
class LoginLimits:
    per_account_and_address: int  # 0: no limit of this kind
    per_account: int
    per_address: int
    window_seconds: float

    @property
    def enabled(self) -> bool:
        return any((self.per_account_and_address, self.per_account, self.per_address))


def account_key(email: str) -> str:
    """The account an email names, as the directory matches it."""
    return email.strip().lower()


class LoginAttempt:
    """One login in progress: its tokens are spent until it is forgiven."""

    def __init__(self, throttle: LoginThrottle, keys: list[Key], account: str, address: str):
        self._throttle = throttle
        self._keys = keys
        self._account = account
        self._address = address
        self._settled = False

    def succeeded(self) -> None:
        self.forgive()
        self._throttle.trust(self._account, self._address)

    def forgive(self) -> None:
        """The attempt does not count as a failure."""
        if not self._settled:
            self._settled = True
            self._throttle.give_back(self._keys)


class LoginThrottle:
    def __init__(self, limits: LoginLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[Key, TokenBucket] = {}
        self._trusted: dict[tuple[str, str], float] = {}  # (account, address): last success
        self._last_prune = clock()

    def attempt(self, email: str, address: str) -> LoginAttempt:
        """Spend one failure of each bucket of this login, or raise `TooManyRequests` with
        the seconds until every one of them allows another."""
        account = account_key(email)
        now = self._clock()
        self._prune(now)
        limits = self._limits
        wanted: list[tuple[Key, int]] = [
            (("pair", account, address), limits.per_account_and_address)
        ]
        if not self._is_trusted(account, address, now):
            wanted.append((("address", "", address), limits.per_address))
            wanted.append((("account", account, ""), limits.per_account))
        taken: list[Key] = []
        wait = 0.0
        for key, allowed in wanted:
            if allowed <= 0:
                continue
            bucket = self._buckets.get(key)
            if bucket is None:
                rate = allowed / limits.window_seconds
                bucket = self._buckets[key] = TokenBucket(allowed, rate, now)
            missing = bucket.take(now)
            if missing:
                wait = max(wait, missing)
            else:
                taken.append(key)
        if wait:
            self.give_back(taken)
            seconds = max(1, math.ceil(wait - 1e-6))
            raise TooManyRequests(
                f"Too many failed logins: try again in {seconds} seconds", seconds
            )
        return LoginAttempt(self, taken, account, address)

    def give_back(self, keys: list[Key]) -> None:
        now = self._clock()
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.give_back(now)

    def trust(self, account: str, address: str) -> None:
        self._trusted.pop((account, address), None)  # re-inserted last: newest
        self._trusted[(account, address)] = self._clock()

    def __len__(self) -> int:
        return len(self._buckets) + len(self._trusted)

    def _is_trusted(self, account: str, address: str, now: float) -> bool:
        since = self._trusted.get((account, address))
        return since is not None and now - since < TRUSTED_SECONDS

    def _prune(self, now: float) -> None:
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            for key in [k for k, bucket in self._buckets.items() if bucket.is_full(now)]:
                del self._buckets[key]
            for pair in [p for p, since in self._trusted.items() if now - since >= TRUSTED_SECONDS]:
                del self._trusted[pair]
        _forget_oldest(self._buckets)
        _forget_oldest(self._trusted)


def _forget_oldest(table: dict[Any, Any]) -> None:
    while len(table) > MAX_TRACKED:
        del table[next(iter(table))]  # dicts keep insertion order: the oldest first
