"""The readable line a standard XMPP client shows for a system message ("Alice added Bob").

The web client renders system messages from their configuration element; other clients only
show a message's body, so the ejabberd adapter writes these lines there (docs/xmpp-rooms.md).
Names are the users' display names; a user whose name is unknown is shown by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

Names = Mapping[UUID, str]


def name_of(names: Names, user_id: UUID) -> str:
    return names.get(user_id) or str(user_id)


def room_renamed(names: Names, actor: UUID, name: str) -> str:
    return f"{name_of(names, actor)} renamed the room to “{name}”"


def description_changed(names: Names, actor: UUID, description: str) -> str:
    if not description:
        return f"{name_of(names, actor)} removed the room description"
    return f"{name_of(names, actor)} changed the room description to “{description}”"


def picture_updated(names: Names, actor: UUID) -> str:
    return f"{name_of(names, actor)} changed the room picture"


def picture_deleted(names: Names, actor: UUID) -> str:
    return f"{name_of(names, actor)} removed the room picture"


def member_added(names: Names, actor: UUID, user: UUID) -> str:
    return f"{name_of(names, actor)} added {name_of(names, user)}"


def member_removed(names: Names, actor: UUID, user: UUID) -> str:
    if actor == user:
        return f"{name_of(names, user)} left"
    return f"{name_of(names, actor)} removed {name_of(names, user)}"


def file_shared(names: Names, actor: UUID, file_name: str, size: int, description: str) -> str:
    """ "Alice shared report.pdf (2.1 MB)", then the description on a line of its own."""
    line = f"{name_of(names, actor)} shared {file_name} ({file_size(size)})"
    return f"{line}\n{description}" if description else line


def file_size(size: int) -> str:
    """Decimal units, one decimal place from kB on: 512 B, 2.1 MB."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def room_title(name: str | None, workspace_name: str | None) -> str:
    """A channel's title names its workspace ("Sales / Q4 plans") so a list of rooms from
    several workspaces reads unambiguously; other rooms are titled with their name."""
    if workspace_name is not None:
        return f"{workspace_name} / {name or ''}"
    return name or ""
