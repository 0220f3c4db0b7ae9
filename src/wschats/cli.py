"""The `wschats` command: serve, migrate, and administer users, tokens and storage."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click

from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.config import Settings
from wschats.domain.errors import DomainError
from wschats.domain.model import UserType
from wschats.ports import NewUser

T = TypeVar("T")


def _run(settings: Settings, action: Callable[[DirectoryIdentity], Awaitable[T]]) -> T:
    async def main() -> T:
        database = SqlDatabase(settings.resolved_database_url())
        try:
            return await action(DirectoryIdentity(database))
        finally:
            await database.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def _settings() -> Settings:
    return Settings()


def _migrate(settings: Settings) -> None:
    try:
        upgrade(settings.resolved_database_url())
    except Exception as exc:  # any failure: report it plainly instead of a traceback
        raise click.ClickException(f"migration failed: {exc}") from exc


def _report_thread_failure(args: threading.ExceptHookArgs) -> None:
    # A driver's worker thread can fail after its command has already reported the error
    # (e.g. SQLite's connection thread once the event loop is closed): one line, never a
    # traceback, for an administrator's terminal.
    click.echo(f"warning: background task failed: {args.exc_value}", err=True)


@click.group()
@click.pass_context
def main(context: click.Context) -> None:
    """wschats: the Workstream Collaboration Chats API server."""
    if context.invoked_subcommand != "serve":  # the server logs such failures in full
        threading.excepthook = _report_thread_failure


@main.command()
@click.option("--host", default=None, help="Address to listen on (default WSC_HOST or 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default WSC_PORT or 10000)")
def serve(host: str | None, port: int | None) -> None:
    """Apply migrations if needed and serve HTTP."""
    import uvicorn

    from wschats.api.bounded_httptools import head_limit_protocol
    from wschats.api.observability import configure_logging
    from wschats.app import create_app

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    _migrate(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port if port is not None else settings.port,
        log_config=None,  # configure_logging did it
        log_level=settings.log_level,
        access_log=False,  # wschats.requests writes the request lines
        # Both parsers bound the request head: h11 itself, httptools (the faster) through
        # our protocol.
        http=(
            head_limit_protocol(settings.max_header_kb * 1024)
            if settings.http_parser == "httptools"
            else "h11"
        ),
        h11_max_incomplete_event_size=settings.max_header_kb * 1024,
        proxy_headers=True,
        timeout_graceful_shutdown=30,  # deploy/systemd's TimeoutStopSec leaves room above it
    )


@main.command()
def migrate() -> None:
    """Apply the database migrations."""
    settings = _settings()
    _migrate(settings)
    click.echo("database is up to date")


# ---------------------------------------------------------------- XMPP sign-in (issue 12)


@main.command("xmpp-auth")
def xmpp_auth() -> None:
    """ejabberd's external authentication program (extauth_program) on stdin/stdout."""
    from wschats.adapters.extauth.main import run_external_auth

    asyncio.run(run_external_auth(_settings()))


# ---------------------------------------------------------------- users


@main.group()
def user() -> None:
    """Manage the built-in users."""


@user.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--id", "user_id", type=click.UUID, default=None)
@click.option(
    "--type",
    "user_type",
    type=click.Choice(["internal", "guest"], case_sensitive=False),
    default="internal",
)
@click.option("--password", default=None)
def user_add(
    email: str, name: str, user_id: UUID | None, user_type: str, password: str | None
) -> None:
    """Create a user and print its id."""
    settings = _settings()
    _migrate(settings)
    new = NewUser(
        email=email, name=name, id=user_id, type=UserType(user_type.lower()), password=password
    )
    ids = _run(settings, lambda d: d.add_users([new]))
    click.echo(str(ids[0]))


@user.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def user_import(file: Path) -> None:
    """Create every user of a JSON array in one transaction (all or none)."""
    settings = _settings()
    entries = _read_entries(file)
    _migrate(settings)
    with click.progressbar(length=len(entries), label="importing users", file=sys.stderr) as bar:
        ids = _run(settings, lambda d: d.add_users(entries, on_progress=bar.update))
    click.echo(f"imported {len(ids)} users")


def _read_entries(file: Path) -> list[NewUser]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file}: not a readable JSON file: {exc}") from exc
    if not isinstance(data, list):
        raise click.ClickException(f"{file}: expected a JSON array of users")
    allowed = {"id", "email", "name", "type", "password"}
    entries = []
    for index, item in enumerate(data, start=1):
        entries.append(_entry(index, item, allowed))
    return entries


def _entry(index: int, item: Any, allowed: set[str]) -> NewUser:
    where = f"entry {index}"
    if not isinstance(item, dict):
        raise click.ClickException(f"{where}: expected an object")
    unknown = set(item) - allowed
    if unknown:
        raise click.ClickException(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("email", "name"):
        if not isinstance(item.get(key), str):
            raise click.ClickException(f"{where}: '{key}' must be a string")
    try:
        user_id = UUID(item["id"]) if item.get("id") is not None else None
        user_type = UserType(str(item.get("type", "internal")).lower())
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"{where}: invalid id or type ({exc})") from exc
    password = item.get("password")
    if password is not None and not isinstance(password, str):
        raise click.ClickException(f"{where}: 'password' must be a string")
    return NewUser(
        email=item["email"], name=item["name"], id=user_id, type=user_type, password=password
    )


@user.command("list")
def user_list() -> None:
    """List the users: id, email, name, type, state."""
    settings = _settings()
    _migrate(settings)
    for entry in _run(settings, lambda d: d.list_users()):
        state = "disabled" if entry.disabled else "active"
        click.echo(f"{entry.id}\t{entry.email}\t{entry.name}\t{entry.type.value}\t{state}")


def _lookup(email: str | None, user_id: UUID | None) -> Callable[[DirectoryIdentity], Any]:
    if (email is None) == (user_id is None):
        raise click.UsageError("give exactly one of --email or --id")

    async def find(directory: DirectoryIdentity) -> Any:
        entry = await directory.find(email=email, user_id=user_id)
        if entry is None:
            raise click.ClickException(f"no user with {'email ' + email if email else user_id}")
        return entry

    return find


@user.command("disable")
@click.option("--email", default=None)
@click.option("--id", "user_id", type=click.UUID, default=None)
def user_disable(email: str | None, user_id: UUID | None) -> None:
    """Disable a user: their tokens stop working at once."""
    settings = _settings()
    find = _lookup(email, user_id)
    _migrate(settings)

    async def action(directory: DirectoryIdentity) -> UUID:
        entry = await find(directory)
        await directory.disable(entry.id)
        return UUID(str(entry.id))

    click.echo(f"disabled {_run(settings, action)}")


@main.group()
def token() -> None:
    """Issue and revoke access tokens."""


@token.command("issue")
@click.option("--email", default=None)
@click.option("--id", "user_id", type=click.UUID, default=None)
@click.option("--ttl", type=click.IntRange(min=1), default=None, help="Lifetime in seconds")
def token_issue(email: str | None, user_id: UUID | None, ttl: int | None) -> None:
    """Print a new token for a user."""
    settings = _settings()
    find = _lookup(email, user_id)
    _migrate(settings)

    async def action(directory: DirectoryIdentity) -> str:
        entry = await find(directory)
        if entry.disabled:
            raise click.ClickException(f"user {entry.id} is disabled")
        return await directory.issue_token(entry.id, ttl or settings.token_ttl_seconds)

    click.echo(_run(settings, action))


@token.command("revoke")
@click.argument("value", metavar="TOKEN")
def token_revoke(value: str) -> None:
    """Revoke a token."""
    settings = _settings()
    _migrate(settings)
    if not _run(settings, lambda d: d.revoke_token(value)):
        raise click.ClickException("unknown token")
    click.echo("revoked")


@main.group()
def storage() -> None:
    """Check that stored files and their database rows match."""


@storage.command("check")
@click.option("--repair", is_flag=True, help="Remove the orphans found (bytes and rows)")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to wait before checking candidates again (uploads in flight on a live server)",
)
def storage_check(repair: bool, grace: float) -> None:
    """List stored files without a row and rows without stored files; exit 1 if any."""
    from wschats.app import build_blob_store
    from wschats.services.storage import StorageCheck, describe

    settings = _settings()
    _migrate(settings)

    async def main() -> list[str]:
        database = SqlDatabase(settings.resolved_database_url())
        try:
            blobs = await build_blob_store(settings)
            try:
                check = StorageCheck(database, blobs)
                report = await check.check(grace_seconds=grace)
                lines = list(describe(report))
                if repair and not report.clean:
                    await check.repair(report)
                    lines.append(
                        f"removed {len(report.orphan_blobs)} stored files and "
                        f"{len(report.orphan_rows)} rows"
                    )
                elif not report.clean:
                    lines.append(
                        f"{len(report.orphan_blobs) + len(report.orphan_rows)} orphans "
                        "(run with --repair to remove them)"
                    )
                return lines
            finally:
                await blobs.close()
        finally:
            await database.close()

    try:
        lines = asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for line in lines:
        click.echo(line)
    if lines and not repair:
        sys.exit(1)
    if not lines:
        click.echo("storage and database agree")
