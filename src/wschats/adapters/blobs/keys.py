"""Key and range rules shared by every `BlobStore` adapter, so all accept exactly the same."""

from __future__ import annotations

import re

# Segments never start with a dot: that rules out "." and "..", and keeps keys apart from the
# local adapter's ".tmp-" files. 255 is the usual file-name limit; 1024 is S3's key limit.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
MAX_KEY_LENGTH = 1024


class InvalidKeyError(ValueError):
    """A key or prefix that no server-generated id produces (a bug, never a client's input)."""


def check_key(key: str) -> str:
    """`key` if it is `segment(/segment)*` with safe segments, else `InvalidKeyError`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"invalid blob key {key!r}")
    if not all(is_key_segment(segment) for segment in key.split("/")):
        raise InvalidKeyError(f"invalid blob key {key!r}")
    return key


def is_valid_key(key: str) -> bool:
    try:
        check_key(key)
    except InvalidKeyError:
        return False
    return True


def is_key_segment(name: str) -> bool:
    """Whether `name` may be one segment of a key (so a listing shows only valid keys)."""
    return _SEGMENT.fullmatch(name) is not None


def check_prefix(prefix: str) -> str:
    """`prefix` if it is empty or the start of a valid key (it may end with "/")."""
    if prefix == "":
        return prefix
    check_key(prefix.removesuffix("/"))
    return prefix


def check_range(start: int, end: int | None) -> None:
    """A range [start, end) must not be negative or reversed; past the end is clamped."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range [{start}, {end})")
