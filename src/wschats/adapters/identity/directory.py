"""The built-in user directory: users and tokens in our own database (DECISIONS.md#identity).

Tokens are random, stored only as a SHA-256 hash, expire, and can be revoked. Passwords are
hashed with argon2, on the threads of a `PasswordHashPool`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.driver_rows import compile_for_driver, driver_rows, plain_uuid
from wschats.adapters.db.engine import key_lookup
from wschats.adapters.identity.hashing import PasswordHashPool
from wschats.domain.errors import BadRequest
from wschats.domain.model import UserProfile, UserType
from wschats.domain.time import utc_now
from wschats.ports import DirectoryEntry, NewUser

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a login takes as long whether or not the user
    exists. Made on first use: hashing is slow, and every CLI command imports this module."""
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _profile(row: Any) -> UserProfile:
    return UserProfile(id=row.id, email=row.email, name=row.name, type=UserType(row.type))


# Built once: building the statement cost as much as running it. By the token's unique hash;
# the caller checks the expiry.
_AUTHENTICATE = key_lookup(
    select(
        t.directory_user.c.id,
        t.directory_user.c.email,
        t.directory_user.c.name,
        t.directory_user.c.type,
        t.directory_token.c.expires_at,
    )
    .join(t.directory_token, t.directory_token.c.user_id == t.directory_user.c.id)
    .where(
        and_(
            t.directory_token.c.token_hash == bindparam("token_hash"),
            t.directory_token.c.revoked.is_(False),
            t.directory_user.c.disabled.is_(False),
        )
    )
)


# PostgreSQL runs it on asyncpg itself (driver_rows): SQLAlchemy's execution cost about
# three times the lookup. SQLite's runs on the event loop and is remembered (lookup_memo).
_AUTHENTICATE_ON_POSTGRESQL = {"postgresql": compile_for_driver(_AUTHENTICATE, "postgresql")}

_FIND_BY_ID = key_lookup(
    select(t.directory_user).where(t.directory_user.c.id == bindparam("user_id"))
)
_FIND_BY_EMAIL = key_lookup(
    select(t.directory_user).where(t.directory_user.c.email == bindparam("email"))
)


# Tokens checked per statement by `valid_sessions`: well below every database's bound on
# parameters.
_SESSION_CHECK_CHUNK = 500


class DirectoryIdentity:
    """Implements both `IdentityService` and `UserDirectory` on the database."""

    def __init__(self, database: SqlDatabase, hashing: PasswordHashPool | None = None) -> None:
        self._db = database
        self.hashing = hashing or PasswordHashPool()

    # ------------------------------------------------------------ IdentityService

    async def authenticate(self, token: str) -> UserProfile | None:
        values = {"token_hash": token_hash(token)}
        async with self._db.single_statement_reads() as conn:
            if conn.dialect.name == "postgresql":
                rows = await driver_rows(conn, _AUTHENTICATE_ON_POSTGRESQL, values)
                found = rows[0] if rows else None
            else:
                found = (await conn.execute(_AUTHENTICATE, values)).first()
        if found is None:
            return None
        user_id, email, name, kind, expires_at = found
        # Expiry is checked here, not in SQL: a key lookup reads no clock (lookup_memo).
        if expires_at <= utc_now():
            return None
        return UserProfile(id=plain_uuid(user_id), email=email, name=name, type=UserType(kind))

    async def get_user(self, user_id: UUID, *, token: str) -> UserProfile | None:
        users = await self._users_by_id([user_id])
        return users[0] if users else None

    async def get_users(self, user_ids: Sequence[str], *, token: str) -> list[UserProfile]:
        parsed: list[UUID] = []
        for value in user_ids:
            try:
                parsed.append(UUID(value))
            except ValueError:
                continue  # not an id we could know: left out, like any unknown user
        return await self._users_by_id(parsed)

    async def _users_by_id(self, user_ids: Sequence[UUID]) -> list[UserProfile]:
        if not user_ids:
            return []
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(t.directory_user).where(t.directory_user.c.id.in_(user_ids))
            )
            found = {r.id: _profile(r) for r in rows}
        return [found[i] for i in dict.fromkeys(user_ids) if i in found]

    async def health(self) -> bool:
        return await self._db.health()

    # ------------------------------------------------------------ SessionValidity

    async def valid_sessions(self, tokens: Sequence[str]) -> dict[str, datetime | None]:
        by_hash = {token_hash(token): token for token in tokens}
        hashes = list(by_hash)
        valid: dict[str, datetime | None] = {}
        now = utc_now()
        for start in range(0, len(hashes), _SESSION_CHECK_CHUNK):
            async with self._db.unit_of_work() as uow:
                rows = await uow.connection.execute(
                    select(t.directory_token.c.token_hash, t.directory_token.c.expires_at)
                    .join(t.directory_user, t.directory_token.c.user_id == t.directory_user.c.id)
                    .where(
                        t.directory_token.c.token_hash.in_(
                            hashes[start : start + _SESSION_CHECK_CHUNK]
                        ),
                        t.directory_token.c.revoked.is_(False),
                        t.directory_user.c.disabled.is_(False),
                    )
                )
                for row in rows:
                    if row.expires_at > now:
                        valid[by_hash[row.token_hash]] = row.expires_at
        return valid

    # ------------------------------------------------------------ UserDirectory

    async def add_users(
        self, users: Sequence[NewUser], on_progress: Callable[[int], None] | None = None
    ) -> list[UUID]:
        rows: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for index, user in enumerate(users):
            label = f"entry {index + 1} ({user.email!r})"
            email = user.email.strip().lower()
            if not _EMAIL.match(email):
                raise BadRequest(f"{label}: invalid email")
            if not user.name.strip():
                raise BadRequest(f"{label}: name must not be empty")
            if email in seen:
                raise BadRequest(f"{label}: duplicate of entry {seen[email] + 1}")
            seen[email] = index
            password_hash = (
                await self.hashing.run(_hasher.hash, user.password) if user.password else None
            )
            rows.append(
                {
                    "id": user.id or uuid.uuid4(),
                    "email": email,
                    "name": user.name.strip(),
                    "type": user.type.value,
                    "password_hash": password_hash,
                    "disabled": False,
                    "created_at": utc_now(),
                }
            )
            if on_progress is not None:
                on_progress(1)
        async with self._db.unit_of_work(write=True) as uow:
            conn = uow.connection
            existing = (
                await conn.execute(
                    select(t.directory_user.c.id, t.directory_user.c.email).where(
                        t.directory_user.c.email.in_([r["email"] for r in rows])
                        | t.directory_user.c.id.in_([r["id"] for r in rows])
                    )
                )
            ).all()
            if existing:
                taken_emails = {e.email for e in existing}
                taken_ids = {e.id for e in existing}
                for index, row in enumerate(rows):
                    if row["email"] in taken_emails or row["id"] in taken_ids:
                        raise BadRequest(
                            f"entry {index + 1} ({row['email']!r}): a user with this email or id"
                            " already exists"
                        )
            try:
                if rows:
                    await conn.execute(insert(t.directory_user), rows)
                await uow.commit()
            except IntegrityError as exc:
                raise BadRequest("a user with the same email or id already exists") from exc
        return [r["id"] for r in rows]

    async def list_users(self) -> list[DirectoryEntry]:
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(t.directory_user).order_by(t.directory_user.c.created_at)
            )
            return [_entry(r) for r in rows]

    async def find(
        self, *, email: str | None = None, user_id: UUID | None = None
    ) -> DirectoryEntry | None:
        key: dict[str, object]
        if email is not None:
            statement, key = _FIND_BY_EMAIL, {"email": email.strip().lower()}
        elif user_id is not None:
            statement, key = _FIND_BY_ID, {"user_id": user_id}
        else:
            return None
        # One unique-key read: `wschats xmpp-auth` answers ejabberd's `isuser` with it, once
        # or more for every message routed to a subscriber who is offline.
        async with self._db.single_statement_reads() as conn:
            row = (await conn.execute(statement, key)).first()
        return _entry(row) if row else None

    async def search(self, text: str, limit: int) -> list[UserProfile]:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        user = t.directory_user
        query = (
            select(user)
            .where(
                user.c.disabled.is_(False)
                & (
                    func.lower(user.c.name).like(pattern, escape="\\")
                    | user.c.email.like(pattern, escape="\\")
                )
            )
            .order_by(func.lower(user.c.name), user.c.email)
            .limit(limit)
        )
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(query)
            return [_profile(r) for r in rows]

    async def disable(self, user_id: UUID) -> None:
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                update(t.directory_user)
                .where(t.directory_user.c.id == user_id)
                .values(disabled=True)
            )
            await uow.commit()

    async def issue_token(self, user_id: UUID, ttl_seconds: int) -> str:
        if ttl_seconds <= 0:
            raise BadRequest("ttl must be positive")
        token = secrets.token_urlsafe(32)
        now = utc_now()
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                insert(t.directory_token).values(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                    revoked=False,
                )
            )
            await uow.commit()
        return token

    async def revoke_token(self, token: str) -> bool:
        async with self._db.unit_of_work(write=True) as uow:
            result = await uow.connection.execute(
                update(t.directory_token)
                .where(t.directory_token.c.token_hash == token_hash(token))
                .values(revoked=True)
            )
            await uow.commit()
        return bool(result.rowcount)

    async def revoke_user_tokens(self, user_id: UUID) -> int:
        async with self._db.unit_of_work(write=True) as uow:
            result = await uow.connection.execute(
                update(t.directory_token)
                .where(
                    t.directory_token.c.user_id == user_id,
                    t.directory_token.c.revoked.is_(False),
                    t.directory_token.c.expires_at > utc_now(),
                )
                .values(revoked=True)
            )
            await uow.commit()
        return int(result.rowcount or 0)

    async def delete_expired_tokens(self) -> int:
        async with self._db.unit_of_work(write=True) as uow:
            result = await uow.connection.execute(
                delete(t.directory_token).where(t.directory_token.c.expires_at <= utc_now())
            )
            await uow.commit()
        return int(result.rowcount or 0)

    async def check_password(self, email: str, password: str) -> UUID | None:
        async with self._db.unit_of_work() as uow:
            row = (
                await uow.connection.execute(
                    select(t.directory_user).where(
                        t.directory_user.c.email == email.strip().lower()
                    )
                )
            ).first()
        stored = row.password_hash if row is not None and row.password_hash else None
        matches = await self.hashing.run(_verify, stored, password)
        if row is None or row.disabled or not row.password_hash or not matches:
            return None
        return UUID(str(row.id))

    async def set_password(self, user_id: UUID, password: str) -> None:
        if not password:
            raise BadRequest("the password must not be empty")
        password_hash = await self.hashing.run(_hasher.hash, password)
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                update(t.directory_user)
                .where(t.directory_user.c.id == user_id)
                .values(password_hash=password_hash)
            )
            # Whoever knew the old password may hold a token made with it.
            await uow.connection.execute(
                update(t.directory_token)
                .where(t.directory_token.c.user_id == user_id)
                .values(revoked=True)
            )
            await uow.commit()

    async def delete_user(self, user_id: UUID) -> None:
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                delete(t.directory_token).where(t.directory_token.c.user_id == user_id)
            )
            await uow.connection.execute(
                delete(t.directory_user).where(t.directory_user.c.id == user_id)
            )
            await uow.commit()


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


def _entry(row: Any) -> DirectoryEntry:
    return DirectoryEntry(
        id=row.id,
        email=row.email,
        name=row.name,
        type=UserType(row.type),
        disabled=row.disabled,
        has_password=row.password_hash is not None,
    )
