"""Who may sign in to the XMPP server: ejabberd asks, wschats decides (docs/xmpp-sign-in.md).

An XMPP account is `<user id>@<domain>`. Its password is a wschats token of that user (the
`ZM_AUTH_TOKEN` value) or, for a built-in user, the user's own password. Everything else is
refused: another domain, a name that is not a user id, an unknown or disabled user, a
revoked or expired token, a token of someone else.

Dependency failures are not answered here: they propagate, and the caller (the external
authentication program) refuses and says why.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from wschats.ports import Database, IdentityService, UserDirectory


class XmppSignIn:
    """`directory` is the built-in one (None with an external identity service); `database`
    answers whether a user is known when there is no directory to ask."""

    def __init__(
        self,
        domain: str,
        identity: IdentityService,
        directory: UserDirectory | None,
        database: Database,
    ) -> None:
        self._domain = domain.lower()
        self._identity = identity
        self._directory = directory
        self._database = database
        # A password check costs a slow, memory-hard hash (argon2: about 64 MB and tens of
        # milliseconds): one at a time, so a burst of them cannot exhaust memory or starve
        # the token checks that share the process.
        self._hashing = asyncio.Semaphore(1)

    async def authenticate(self, user: str, server: str, password: str) -> bool:
        user_id = self._account(user, server)
        if user_id is None or not password:
            return False
        # The token first: one indexed lookup, where a password costs a slow hash.
        profile = await self._identity.authenticate(password)
        if profile is not None:
            return profile.id == user_id
        if self._directory is None:
            return False
        entry = await self._directory.find(user_id=user_id)
        if entry is None or entry.disabled or not entry.has_password:
            return False
        async with self._hashing:
            return await self._directory.check_password(entry.email, password) == user_id

    async def exists(self, user: str, server: str) -> bool:
        """Built-in identity: a known, enabled user. External identity service: it cannot be
        asked without the user's token, so a user wschats knows as a member of some room."""
        user_id = self._account(user, server)
        if user_id is None:
            return False
        if self._directory is not None:
            entry = await self._directory.find(user_id=user_id)
            return entry is not None and not entry.disabled
        async with self._database.reads() as uow:
            return user_id in await uow.members.contacts_of(user_id)

    def _account(self, user: str, server: str) -> UUID | None:
        if server.lower() != self._domain:
            return None
        try:
            user_id = UUID(user)
        except ValueError:
            return None
        # Only the canonical spelling names the account (ejabberd lower-cases the local part).
        return user_id if str(user_id) == user.lower() else None
