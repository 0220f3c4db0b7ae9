"""Users' display names for the chat server (room titles, roster entries, system lines)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from uuid import UUID

from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.domain.errors import DependencyFailed

log = logging.getLogger(__name__)


class DirectoryNames:
    """Names from the built-in directory, which needs no caller's token to be asked."""

    def __init__(self, directory: DirectoryIdentity) -> None:
        self._directory = directory

    async def names(self, user_ids: Collection[UUID]) -> dict[UUID, str]:
        if not user_ids:
            return {}
        try:
            users = await self._directory.get_users([str(u) for u in user_ids], token="")
        except DependencyFailed as error:
            log.warning("user names unavailable, ids shown instead: %s", error.message)
            return {}
        return {u.id: u.name for u in users if u.name}


class NoNames:
    """The user-management service answers only with a user's token, which delivery after
    commit does not have: users are shown by id (docs/xmpp-rooms.md)."""

    async def names(self, user_ids: Collection[UUID]) -> dict[UUID, str]:
        return {}
