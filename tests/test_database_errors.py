"""Which database failures mean "unavailable" (500 with a clear message) and which are bugs."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from wschats.adapters.db.database import is_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(error: Exception) -> DBAPIError:
    try:
        raise error
    except Exception as cause:
        return DBAPIError("SELECT 1", {}, cause)


def test_server_shutting_down_or_refusing_connections_is_unavailable() -> None:
    for state in ("57P01", "57P03", "08006", "08001", "53300"):
        assert is_unavailable(wrapped(DriverError(state))), state
    assert is_unavailable(wrapped(ConnectionResetError()))
    assert is_unavailable(ConnectionRefusedError())


def test_a_driver_error_raised_from_a_dropped_connection_is_unavailable() -> None:
    outer = DBAPIError("ROLLBACK", {}, Exception("rollback failed"))
    outer.__cause__ = DriverError("57P01")
    assert is_unavailable(outer)


def test_bugs_and_constraint_violations_are_not_unavailable() -> None:
    assert not is_unavailable(IntegrityError("INSERT", {}, DriverError("23505")))
    assert not is_unavailable(ProgrammingError("SELECT", {}, DriverError("42P01")))
    assert not is_unavailable(ValueError("bad"))
