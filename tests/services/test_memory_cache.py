"""The bounded LRU cache that keeps small previews in memory."""

from __future__ import annotations

from wschats.services.memory_cache import BoundedCache


def test_the_least_recently_used_goes_first_when_the_total_is_passed() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=10, max_entry_bytes=10)
    cache.put("a", "A", 4)
    cache.put("b", "B", 4)
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("c", "C", 4)  # 12 > 10: "b" goes
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    assert cache.size_bytes == 8


def test_a_value_over_the_entry_limit_is_not_kept() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=100, max_entry_bytes=10)
    cache.put("big", "B", 11)
    assert cache.get("big") is None
    assert cache.size_bytes == 0


def test_replacing_a_value_counts_its_new_size_only() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=10, max_entry_bytes=10)
    cache.put("a", "A", 6)
    cache.put("a", "A2", 3)
    cache.put("b", "B", 7)  # 3 + 7 fits: nothing goes
    assert (cache.get("a"), cache.get("b")) == ("A2", "B")
    assert cache.size_bytes == 10


def test_a_cache_of_zero_bytes_keeps_nothing() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=0, max_entry_bytes=256)
    cache.put("a", "A", 1)
    assert cache.get("a") is None
