"""Results of SQLite key lookups, kept while the database says nothing has been committed.

SQLite's `PRAGMA data_version` changes, for a connection, whenever any other connection (of
this process or another) commits. A key lookup read by the event loop's read-only
connection, which never commits, is therefore exactly what reading it again would give for
as long as that value has not changed: the memo answers it then, for the cost of the pragma
(a few µs, where the statement costs about 30). The first commit anywhere empties it.

Only statements whose result depends on nothing but the database and their parameters may
be kept: a key lookup (`engine.key_lookup`) must not read the clock in SQL.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from sqlalchemy import Executable, FrozenResult

MemoKey = tuple[Executable, tuple[tuple[str, Hashable], ...]]


def memo_key(statement: Executable, parameters: object) -> MemoKey | None:
    """The key of one statement with its parameters, None if they cannot be kept (a list of
    parameter sets, an unhashable value)."""
    if parameters is None:
        return statement, ()
    if not isinstance(parameters, Mapping):
        return None
    items = tuple(sorted(parameters.items()))
    try:
        hash(items)
    except TypeError:
        return None
    return statement, items


class LookupMemo:
    """At most `max_entries` results, all read at one data version: a new version, or a
    full memo, empties it. Used from the event loop only."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: dict[MemoKey, FrozenResult[Any]] = {}
        self._version: int | None = None

    def at_version(self, version: int) -> None:
        """Say what the database's data version is now: results read at another go."""
        if version != self._version:
            self._entries.clear()
            self._version = version

    def get(self, key: MemoKey) -> FrozenResult[Any] | None:
        return self._entries.get(key)

    def put(self, key: MemoKey, result: FrozenResult[Any]) -> None:
        """Keep `result`, read after the last `at_version` call."""
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = result
