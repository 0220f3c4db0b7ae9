"""The `wschats` command: serve, migrate, and administer users, tokens and storage."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click
import pydantic
from sqlalchemy.engine import make_url

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


class ConfigurationError(click.ClickException):
    """A setting that cannot work: one line on stderr and exit 2, never a traceback."""

    exit_code = 2


def _settings() -> Settings:
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(f"configuration: {_describe_settings_errors(exc)}") from None
    # Named when a command finds nothing or fails: a relative WSC_DATA_DIR run from another
    # folder opens (and creates) another database.
    click.get_current_context().meta[_DATABASE] = _describe_database(settings)
    return settings


_DATABASE = "wschats.database"


def _describe_settings_errors(exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            name = "WSC_" + "_".join(str(part) for part in error["loc"]).upper()
            message = f"{name}: {message} (got {error['input']!r})"
        problems.append(message)
    return "; ".join(problems)


def _describe_database(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() != "sqlite" or not url.database:
        return f"database {url.render_as_string(hide_password=True)}"
    file = Path(url.database)
    where = f"SQLite database {file}" + ("" if file.exists() else ", created just now")
    if settings.database_url is None and not settings.data_dir.is_absolute():
        where += f" (WSC_DATA_DIR={settings.data_dir} is relative to {Path.cwd()})"
    return where


class _Commands(click.Group):
    """Failures name the database the command opened."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError:
            raise
        except click.ClickException as exc:
            if not ctx.meta.get(_DATABASE) or isinstance(exc, ConfigurationError):
                raise
            # The same exit code: a subclass of the failure's own class carries it.
            named = type("Failure", (click.ClickException,), {"exit_code": exc.exit_code})
            raise named(f"{exc.message} [{ctx.meta[_DATABASE]}]") from exc


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


@click.group(cls=_Commands)
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
    settings = _settings()  # a setting that cannot work is refused before the heavy imports
    import uvicorn

    from wschats.api.server.bounded_httptools import (
        default_max_connections,
        head_limit_protocol,
        raise_descriptor_limit,
    )
    from wschats.api.server.observability import configure_logging
    from wschats.app import create_app

    log_format = settings.log_format
    if log_format == "auto":  # plain text for a person at a terminal, JSON for a journal
        log_format = "text" if sys.stderr.isatty() else "json"
    configure_logging(log_format, settings.log_level)
    _migrate(settings)
    max_connections = settings.max_connections or default_max_connections(raise_descriptor_limit())
    app = create_app(settings)
    # What the imports made lives as long as the process: out of the collector's generations,
    # it is no longer walked by every full collection, which held requests up to about 0.1 s
    # (the room listing's p99 on PostgreSQL: 143 to 153 ms before, 84 to 94 ms after).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        log_config=None,  # configure_logging did it
        log_level=settings.log_level,
        access_log=False,  # wschats.requests writes the request lines
        # Both parsers bound the request head: h11 itself, httptools (the faster) through
        # our protocol.
        http=(
            head_limit_protocol(
                settings.max_header_kb * 1024,
                head_timeout=settings.request_head_timeout_seconds,
                body_timeout=settings.request_body_timeout_seconds,
                max_connections=max_connections,
            )
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

    run_external_auth(_settings())


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
    entries = _run(settings, lambda d: d.list_users())
    for entry in entries:
        state = "disabled" if entry.disabled else "active"
        click.echo(f"{entry.id}\t{entry.email}\t{entry.name}\t{entry.type.value}\t{state}")
    if not entries:
        click.echo(f"no users in the {click.get_current_context().meta[_DATABASE]}", err=True)


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


@user.command("set-password")
@click.option("--email", default=None)
@click.option("--id", "user_id", type=click.UUID, default=None)
@click.option("--password", default=None, help="The new password (asked for when left out)")
def user_set_password(email: str | None, user_id: UUID | None, password: str | None) -> None:
    """Set a user's password; their tokens are revoked."""
    settings = _settings()
    find = _lookup(email, user_id)
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    _migrate(settings)

    async def action(directory: DirectoryIdentity) -> UUID:
        entry = await find(directory)
        await directory.set_password(entry.id, password or "")
        return UUID(str(entry.id))

    click.echo(f"password set for {_run(settings, action)}; their tokens are revoked")


@user.command("delete")
@click.option("--email", default=None)
@click.option("--id", "user_id", type=click.UUID, default=None)
def user_delete(email: str | None, user_id: UUID | None) -> None:
    """Delete a user: their tokens, picture and memberships (see docs/DECISIONS.md)."""
    from wschats.bootstrap import SystemClock, build_blob_store, build_events
    from wschats.services.accounts import AccountService

    settings = _settings()
    find = _lookup(email, user_id)
    _migrate(settings)

    async def main() -> str:
        database = SqlDatabase(settings.resolved_database_url())
        directory = DirectoryIdentity(database)
        try:
            entry = await find(directory)
            await directory.disable(entry.id)  # their tokens stop before anything moves
            events = await build_events(settings)
            blobs = await build_blob_store(settings)
            try:
                for _ in range(50):  # a broker connects in the background: give it 5 s
                    if await events.health():
                        break
                    await asyncio.sleep(0.1)
                accounts = AccountService(database, events, blobs, SystemClock())
                removal = await accounts.remove_user(entry.id)
            finally:
                await blobs.close()
                await events.close()
            await directory.delete_user(entry.id)
        finally:
            await database.close()
        return (
            f"deleted {entry.id}: left {removal.rooms_left} rooms, deleted "
            f"{removal.rooms_deleted} rooms they were alone in, made "
            f"{removal.owners_promoted} new owners"
            + ("; removed their picture" if removal.picture_removed else "")
        )

    try:
        click.echo(asyncio.run(main()))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


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
@click.argument("value", metavar="TOKEN", required=False)
@click.option("--user", "every_token", is_flag=True, help="Every token of the user given")
@click.option("--email", default=None)
@click.option("--id", "user_id", type=click.UUID, default=None)
def token_revoke(
    value: str | None, every_token: bool, email: str | None, user_id: UUID | None
) -> None:
    """Revoke a token, or with --user every token of a user. Their event sockets close too,
    on every serving process (within about WSC_SESSION_CHECK_SECONDS)."""
    if not every_token and value is None and not (email or user_id):
        raise click.UsageError("Missing argument TOKEN (or --user with --email or --id)")
    if every_token == (value is not None) or (not every_token and (email or user_id)):
        raise click.UsageError("give either TOKEN or --user with --email or --id")
    settings = _settings()
    if every_token:
        find = _lookup(email, user_id)
        _migrate(settings)

        async def revoke_all(directory: DirectoryIdentity) -> tuple[UUID, int]:
            entry = await find(directory)
            return UUID(str(entry.id)), await directory.revoke_user_tokens(entry.id)

        owner, count = _run(settings, revoke_all)
        click.echo(f"revoked {count} token(s) of {owner}")
        return
    assert value is not None
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
    from wschats.bootstrap import build_blob_store
    from wschats.services.storage import MAX_CANDIDATES, StorageCheck, describe

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
                if report.incomplete:
                    lines.append(
                        f"stopped at {MAX_CANDIDATES} orphans: run the check again for the rest"
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


# ---------------------------------------------------------------- xmpp (docs/xmpp-rooms.md)


@main.group()
def xmpp() -> None:
    """The chat server (ejabberd) as wschats' database says it should be."""


@xmpp.command("resync")
@click.option("--room", "room_id", type=click.UUID, default=None, help="Only this room")
def xmpp_resync(room_id: UUID | None) -> None:
    """Re-create missing rooms, fix titles, members and bookmarks; print what changed."""
    from wschats.bootstrap import build_ejabberd, room_sync

    settings = _settings()
    if settings.xmpp != "ejabberd" or not settings.xmpp_url:
        raise click.ClickException("resync needs WSC_XMPP=ejabberd and WSC_XMPP_URL")
    _migrate(settings)

    async def main() -> dict[UUID, list[str]]:
        database = SqlDatabase(settings.resolved_database_url())
        ejabberd = build_ejabberd(settings)
        try:
            directory = DirectoryIdentity(database) if settings.identity == "builtin" else None
            sync, _names = room_sync(ejabberd, database, directory)
            if room_id is None:
                return await sync.reconcile_all()
            return {room_id: await sync.reconcile(room_id)}
        finally:
            await ejabberd.close()
            await database.close()

    try:
        report = asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    changed = {key: lines for key, lines in report.items() if lines}
    for key, lines in changed.items():
        for line in lines:
            click.echo(f"{key}: {line}")
    click.echo(f"{len(changed)} rooms or users changed" if changed else "nothing to change")
