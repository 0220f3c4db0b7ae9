"""Values derived from objects that nothing changes, found by the objects' identity.

The room listing hands out the same objects while a room's row is unchanged (the members, the
listed room, its view), so what is derived from one (a view, its JSON) can be found by `id()`
instead of by hashing its contents, which costs more than the lookup saves. An entry keeps its
object alive, so no id is reused while it is cached. Bounded: emptied whole when full. Not
thread-safe: used from the event loop only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

O = TypeVar("O")  # noqa: E741 - the object a value is derived from
V = TypeVar("V")


class IdentityMemo(Generic[O, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[int, Hashable], tuple[O, V]] = {}

    def get(self, obj: O, derive: Callable[[O], V], variant: Hashable = None) -> V:
        """The value derived from `obj` (and `variant`), derived once while it is kept."""
        key = (id(obj), variant)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not obj:
            if len(self._entries) >= self._size:
                self._entries.clear()
            entry = self._entries[key] = (obj, derive(obj))
        return entry[1]
