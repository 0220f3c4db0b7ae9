"""Builds `wschats xmpp-auth` from the settings and runs it on stdin/stdout until ejabberd
closes them."""

from __future__ import annotations

import sys

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.extauth.program import ExternalAuthProgram
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.adapters.identity.usermanagement import UserManagementIdentity
from wschats.config import Settings
from wschats.ports import IdentityService
from wschats.services.xmpp_signin import XmppSignIn


async def run_external_auth(settings: Settings) -> None:
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
        sign_in = XmppSignIn(settings.xmpp_domain, identity, directory, database)
        program = ExternalAuthProgram(sign_in, timeout_seconds=settings.xmpp_auth_timeout_seconds)
        await program.serve(sys.stdin.buffer, sys.stdout.buffer)
    finally:
        if user_management is not None:
            await user_management.close()
        await database.close()
