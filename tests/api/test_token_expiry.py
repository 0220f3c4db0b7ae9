"""Expired tokens are deleted (at start-up, then every WSC_EXPIRED_TOKEN_SWEEP_SECONDS)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from tests.conftest import Api, Users
from wschats.adapters.db import tables as t
from wschats.adapters.identity.directory import token_hash
from wschats.bootstrap import Adapters


async def stored(adapters: Adapters, token: str) -> bool:
    engine = adapters.database.engine
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(t.directory_token)
            .where(t.directory_token.c.token_hash == token_hash(token))
        )
    return bool(count)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


async def test_expired_tokens_are_deleted_and_valid_ones_kept(
    api: Api, api_with: Any, users: Users, adapters: Adapters
) -> None:
    user = await users.new()
    assert adapters.directory is not None
    short = await adapters.directory.issue_token(user.id, 1)
    auth = {"Authorization": f"Bearer {short}"}

    async def refused() -> bool:
        return (await api.request("GET", "/rooms", headers=auth)).status_code == 401

    await until(refused)
    assert await stored(adapters, short)  # expired, not yet swept

    # Another process starting sweeps at once, then every 0.2 s.
    await api_with(expired_token_sweep_seconds=0.2)

    async def swept() -> bool:
        return not await stored(adapters, short)

    await until(swept)
    assert await stored(adapters, user.token)
    assert (await api.get("/rooms", user)).status_code == 200
