"""A least-recently-used cache bounded by the total size of its values."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Keeps values of at most `max_entry_bytes` each, `max_bytes` in all, dropping the least
    recently used first. Not thread-safe: used from the event loop only."""

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def max_entry_bytes(self) -> int:
        return self._max_entry_bytes

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Keep `value`, of `size` bytes, under `key`; one over the entry limit is not kept."""
        if size > self._max_entry_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous[1]
        self._entries[key] = (value, size)
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
