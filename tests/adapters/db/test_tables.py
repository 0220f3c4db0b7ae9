"""Column types: what SQLite's stored text reads back as."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import sqlite

from wschats.adapters.db.tables import UTCDateTime


def read_sqlite(text: str | None) -> datetime | None:
    processor = UTCDateTime().result_processor(sqlite.dialect(), None)
    assert processor is not None
    return processor(text)


def test_stored_timestamps_come_back_aware_in_utc() -> None:
    assert read_sqlite("2026-11-27 01:22:40.953000") == datetime(
        2026, 11, 27, 1, 22, 40, 953000, tzinfo=UTC
    )
    assert read_sqlite("2026-11-27 01:22:40") == datetime(2026, 11, 27, 1, 22, 40, tzinfo=UTC)
    assert read_sqlite("0001-01-01 00:00:00.000000") == datetime(1, 1, 1, tzinfo=UTC)
    assert read_sqlite(None) is None


def test_a_stored_offset_is_honoured() -> None:
    # Not written by wschats, but a row edited by hand must not break reads.
    assert read_sqlite("2026-11-27 03:22:40+02:00") == datetime(2026, 11, 27, 1, 22, 40, tzinfo=UTC)
