"""Time rules: UTC everywhere, millisecond precision, ISO-8601 with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def utc_now() -> datetime:
    """Now, truncated to milliseconds so stored and rendered values round-trip exactly."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Memoised: listings render the same stored timestamps again and again, and a lookup costs a
# tenth of formatting. Equal instants format alike whatever their time zone.
@lru_cache(maxsize=32768)
def format_datetime(value: datetime) -> str:
    """`2024-09-10T10:00:00.123Z` (always milliseconds, always UTC)."""
    v = value if value.tzinfo is UTC else as_utc(value)
    # isoformat is C code: ends in "+00:00" for UTC, which becomes "Z".
    return v.isoformat(timespec="milliseconds")[:-6] + "Z"
