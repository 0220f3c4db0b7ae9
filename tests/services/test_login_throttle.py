"""The failed-login limits, on their own clock (services/login_throttle.py)."""

from __future__ import annotations

import pytest

from wschats.domain.errors import TooManyRequests
from wschats.services import login_throttle
from wschats.services.login_throttle import LoginLimits, LoginThrottle

LIMITS = LoginLimits(per_account_and_address=3, per_account=5, per_address=4, window_seconds=60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, email: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        throttle.attempt(email, address)  # left unsettled: a wrong password


def refused(throttle: LoginThrottle, email: str, address: str) -> int:
    with pytest.raises(TooManyRequests) as raised:
        throttle.attempt(email, address)
    return raised.value.retry_after


def test_failures_of_one_account_from_one_address_are_limited_then_regained() -> None:
    clock = Clock()
    throttle = LoginThrottle(LIMITS, clock)
    fail(throttle, "pat@example.com", "10.0.0.1", 3)
    assert refused(throttle, "pat@example.com", "10.0.0.1") == 20  # 3 a minute: one every 20 s
    assert refused(throttle, "PAT@example.com ", "10.0.0.1") == 20  # the same account
    # Another address is not concerned by that limit.
    throttle.attempt("pat@example.com", "10.0.0.2").succeeded()
    clock.now += 20
    fail(throttle, "pat@example.com", "10.0.0.1")
    assert refused(throttle, "pat@example.com", "10.0.0.1") == 20


def test_a_successful_login_does_not_count_and_refusals_spend_nothing() -> None:
    throttle = LoginThrottle(LIMITS, Clock())
    for _ in range(10):
        throttle.attempt("pat@example.com", "10.0.0.1").succeeded()
    for _ in range(10):
        throttle.attempt("kim@example.com", "10.0.0.1").forgive()  # e.g. hashing was busy
    fail(throttle, "lee@example.com", "10.0.0.1", 3)
    for _ in range(5):
        refused(throttle, "lee@example.com", "10.0.0.1")
    # The refusals took nothing from the address's budget: one failure of it is left.
    fail(throttle, "ann@example.com", "10.0.0.1")
    refused(throttle, "bob@example.com", "10.0.0.1")


def test_one_address_trying_many_accounts_is_limited() -> None:
    throttle = LoginThrottle(LIMITS, Clock())
    for index in range(4):
        fail(throttle, f"user{index}@example.com", "10.0.0.9")
    assert refused(throttle, "user9@example.com", "10.0.0.9") == 15  # 4 a minute
    fail(throttle, "user9@example.com", "10.0.0.10")  # another address is free


def test_many_addresses_against_one_account_are_limited_but_not_its_usual_address() -> None:
    throttle = LoginThrottle(LIMITS, Clock())
    throttle.attempt("pat@example.com", "192.0.2.1").succeeded()  # Pat's usual address
    for index in range(5):
        fail(throttle, "pat@example.com", f"10.0.1.{index}")
    assert refused(throttle, "pat@example.com", "10.0.1.99") == 12  # 5 a minute
    # The attacker spent the account's budget, yet Pat still logs in from home...
    throttle.attempt("pat@example.com", "192.0.2.1").succeeded()
    # ...where only the (account, address) limit applies, and still applies.
    fail(throttle, "pat@example.com", "192.0.2.1", 3)
    refused(throttle, "pat@example.com", "192.0.2.1")


def test_a_scope_at_zero_is_not_limited() -> None:
    limits = LoginLimits(per_account_and_address=0, per_account=0, per_address=2, window_seconds=60)
    throttle = LoginThrottle(limits, Clock())
    fail(throttle, "pat@example.com", "10.0.0.1", 2)
    refused(throttle, "pat@example.com", "10.0.0.1")
    fail(throttle, "pat@example.com", "10.0.0.2", 2)
    assert not LoginLimits(0, 0, 0, 60).enabled


def test_memory_is_bounded_and_idle_entries_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(login_throttle, "MAX_TRACKED", 50)
    clock = Clock()
    throttle = LoginThrottle(LIMITS, clock)
    for index in range(200):  # made-up accounts from made-up addresses
        fail(throttle, f"user{index}@example.com", f"10.2.{index // 250}.{index % 250}")
    assert len(throttle) <= 100  # buckets and trusted addresses, each at most 50
    clock.now += 3600  # every bucket is full again
    fail(throttle, "pat@example.com", "10.0.0.1")
    assert len(throttle) == 3  # the new attempt's buckets only
