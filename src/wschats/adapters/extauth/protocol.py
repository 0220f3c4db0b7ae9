"""The framing of ejabberd's external authentication protocol (`extauth_program`).

ejabberd writes requests to the program's stdin, each a 2-byte big-endian length followed by
that many bytes of UTF-8 text `op:user:server[:password]`; the password is the rest of the
text, so it may contain ':'. The program answers each request, in order, with 4 bytes: the
length 2, then the result 1 (yes) or 0 (no), both big-endian 16-bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal, cast

HEADER = struct.Struct(">H")
YES = struct.pack(">HH", 2, 1)
NO = struct.pack(">HH", 2, 0)

Operation = Literal["auth", "isuser", "setpass", "tryregister", "removeuser", "removeuser3"]
# How many ':'-separated fields each operation has, the operation included.
_FIELDS: dict[str, int] = {
    "auth": 4,
    "isuser": 3,
    "setpass": 4,
    "tryregister": 4,
    "removeuser": 3,
    "removeuser3": 4,
}


@dataclass(frozen=True)
class Request:
    operation: Operation
    user: str
    server: str
    password: str = ""


class MalformedRequest(ValueError):
    """Not a request this protocol defines: answered "no", never fatal."""


def parse(payload: bytes) -> Request:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("not UTF-8") from None
    operation = text.split(":", 1)[0]
    count = _FIELDS.get(operation)
    if count is None:
        raise MalformedRequest(f"unknown operation {operation[:20]!r}")
    fields = text.split(":", count - 1)
    if len(fields) != count:
        raise MalformedRequest(f"{operation}: {count} fields expected, got {len(fields)}")
    user, server = fields[1], fields[2]
    if not user or not server or ":" in server:
        raise MalformedRequest(f"{operation}: bad user or server")
    password = fields[3] if count == 4 else ""
    return Request(cast(Operation, operation), user, server, password)


def answer(accepted: bool) -> bytes:
    return YES if accepted else NO
