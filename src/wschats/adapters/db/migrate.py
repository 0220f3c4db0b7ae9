"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "wschats.adapters.db:migrations")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`. Safe to call from async code (it then runs in a thread, since
    the migration environment drives its own event loop)."""
    config = alembic_config(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, config, revision).result()
