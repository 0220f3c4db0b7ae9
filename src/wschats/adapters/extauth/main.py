"""Builds `wschats xmpp-auth` from the settings and runs it on stdin/stdout until ejabberd
closes them."""

from __future__ import annotations

import asyncio
import os
import sys

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.engine import sqlite_file_path
from wschats.adapters.extauth.program import ExternalAuthProgram, SignIn
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.adapters.identity.usermanagement import UserManagementIdentity
from wschats.config import Settings
from wschats.ports import IdentityService
from wschats.services.xmpp_signin import XmppSignIn


class _RequireDatabaseFile:
    """Refuses while the SQLite file is missing, with a line saying why: opening it would
    create an empty database (ejabberd may start the program before `wschats serve` has
    created it, or with the wrong WSC_DATA_DIR)."""

    def __init__(self, sign_in: SignIn, path: str) -> None:
        self._sign_in = sign_in
        self._path = path

    async def authenticate(self, user: str, server: str, password: str) -> bool:
        await self._check()
        return await self._sign_in.authenticate(user, server, password)

    async def exists(self, user: str, server: str) -> bool:
        await self._check()
        return await self._sign_in.exists(user, server)

    async def _check(self) -> None:
        # A stat of a local file, on the loop: a hop to a thread costs more than the sign-in
        # (and the SQLite lookup that follows reads the same disk on the loop too).
        if not os.path.exists(self._path):  # noqa: ASYNC240
            raise LookupError(
                f"no wschats database at {self._path} (check WSC_DATA_DIR / WSC_DATABASE_URL)"
            )


def run_external_auth(settings: Settings) -> None:
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    # A small pool: ejabberd runs several of these programs, each deciding a few at a time.
    database = SqlDatabase(
        settings.resolved_database_url(),
        pool_size=4,
        timeout=min(settings.database_timeout_seconds, settings.xmpp_auth_timeout_seconds),
    )
    user_management: UserManagementIdentity | None = None
    try:
        identity: IdentityService
        directory: DirectoryIdentity | None = None
        if settings.identity == "usermanagement":
            if not settings.identity_url:
                raise SystemExit("WSC_IDENTITY_URL is required when WSC_IDENTITY=usermanagement")
            # No cache: a token revoked in user-management stops signing in at once.
            user_management = UserManagementIdentity(
                settings.identity_url,
                timeout_seconds=min(
                    settings.identity_timeout_seconds, settings.xmpp_auth_timeout_seconds
                ),
                cache_seconds=0,
            )
            identity = user_management
        else:
            directory = DirectoryIdentity(database)
            identity = directory
        sign_in: SignIn = XmppSignIn(settings.xmpp_domain, identity, directory, database)
        sqlite_file = sqlite_file_path(database.url)
        if sqlite_file is not None:
            sign_in = _RequireDatabaseFile(sign_in, sqlite_file)
        program = ExternalAuthProgram(sign_in, timeout_seconds=settings.xmpp_auth_timeout_seconds)
        await program.serve(sys.stdin.buffer, sys.stdout.buffer)
    finally:
        if user_management is not None:
            await user_management.close()
        await database.close()
