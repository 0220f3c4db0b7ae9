"""XMPP commands as stored in the outbox: (kind, JSON) and back."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from wschats.domain import messaging
from wschats.domain.messaging import MessagingCommand

_COMMANDS: dict[str, type[MessagingCommand]] = {
    cls.__name__: cls
    for cls in vars(messaging).values()
    if isinstance(cls, type) and issubclass(cls, MessagingCommand) and cls is not MessagingCommand
}


def encode_command(command: MessagingCommand) -> tuple[str, str]:
    """(kind, JSON payload) of a command."""
    return type(command).__name__, json.dumps(_plain(command))


def decode_command(kind: str, payload: str) -> MessagingCommand:
    """The command stored as (kind, payload); fields that an older version did not store take
    their defaults."""
    cls = _COMMANDS[kind]
    value = _typed(cls, json.loads(payload))
    assert isinstance(value, MessagingCommand)
    return value


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _typed(annotation: Any, value: Any) -> Any:
    """Rebuild a value of `annotation` from its JSON form (the inverse of `_plain`)."""
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _typed(inner[0], value)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(annotation)
        return tuple(_typed(item, v) for v in value)
    if annotation is UUID:
        return UUID(value)
    if annotation is datetime:
        return datetime.fromisoformat(value)
    if isinstance(annotation, type) and is_dataclass(annotation):
        hints = typing.get_type_hints(annotation)
        return annotation(
            **{
                f.name: _typed(hints[f.name], value[f.name])
                for f in fields(annotation)
                if f.name in value or (f.default is MISSING and f.default_factory is MISSING)
            }
        )
    return value
