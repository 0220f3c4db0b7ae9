"""Timestamps as clients read them (DECISIONS.md#serving): UTC, a `Z`, exactly three decimals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from wschats.domain.model import MUTED_FOREVER
from wschats.domain.time import format_datetime


def test_milliseconds_are_always_three_digits_and_truncated() -> None:
    assert format_datetime(datetime(2024, 9, 10, 10, 0, 0, tzinfo=UTC)) == (
        "2024-09-10T10:00:00.000Z"
    )
    assert format_datetime(datetime(2024, 9, 10, 10, 0, 0, 123999, tzinfo=UTC)) == (
        "2024-09-10T10:00:00.123Z"
    )


def test_other_time_zones_and_naive_values_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 9, 10, 12, 30, tzinfo=plus_two)) == (
        "2024-09-10T10:30:00.000Z"
    )
    # The same instant first seen in UTC, then in another zone: both read the same.
    assert format_datetime(datetime(2024, 9, 10, 8, 0, tzinfo=UTC)) == "2024-09-10T08:00:00.000Z"
    assert format_datetime(datetime(2024, 9, 10, 10, 0, tzinfo=plus_two)) == (
        "2024-09-10T08:00:00.000Z"
    )
    assert format_datetime(datetime(2024, 9, 10, 8, 0)) == "2024-09-10T08:00:00.000Z"


def test_muted_forever_keeps_four_year_digits() -> None:
    assert format_datetime(MUTED_FOREVER) == "0001-01-01T00:00:00.000Z"
