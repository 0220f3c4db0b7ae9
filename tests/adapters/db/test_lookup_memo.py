"""The memo of key lookups: emptied by a new data version, bounded in entries."""

from __future__ import annotations

from sqlalchemy import FrozenResult, literal, select

from wschats.adapters.db.lookup_memo import LookupMemo, memo_key

STATEMENT = select(literal(1))


def result() -> FrozenResult[int]:
    return FrozenResult.__new__(FrozenResult)  # only kept and given back, never read


def test_a_new_data_version_empties_the_memo() -> None:
    memo = LookupMemo(max_entries=10)
    key = memo_key(STATEMENT, {"id": 1})
    assert key is not None
    memo.at_version(7)
    kept = result()
    memo.put(key, kept)
    memo.at_version(7)
    assert memo.get(key) is kept
    memo.at_version(8)
    assert memo.get(key) is None


def test_a_full_memo_starts_again() -> None:
    memo = LookupMemo(max_entries=2)
    memo.at_version(1)
    keys = [memo_key(STATEMENT, {"id": n}) for n in range(3)]
    for key in keys:
        assert key is not None
        memo.put(key, result())
    assert [memo.get(k) is not None for k in keys if k is not None] == [False, False, True]


def test_keys_tell_parameters_and_statements_apart() -> None:
    other = select(literal(1))
    assert memo_key(STATEMENT, {"a": 1, "b": 2}) == memo_key(STATEMENT, {"b": 2, "a": 1})
    assert memo_key(STATEMENT, {"a": 1}) != memo_key(STATEMENT, {"a": 2})
    assert memo_key(STATEMENT, {"a": 1}) != memo_key(other, {"a": 1})
    assert memo_key(STATEMENT, [{"a": 1}, {"a": 2}]) is None  # many parameter sets
    assert memo_key(STATEMENT, {"a": [1]}) is None  # unhashable
