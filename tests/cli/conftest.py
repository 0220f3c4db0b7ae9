"""Fixtures for the `wschats` command: a data folder and database per backend, the command
run as a subprocess from the virtualenv, and a real `wschats serve` process."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from wschats.devtools.servers import WSCHATS, ServerProcess, server_env

PG_ADMIN_URL = os.environ.get("WSC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COMMAND_TIMEOUT_S = 120
SERVER_START_TIMEOUT_S = 60


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def fresh_database(backend: str, data_dir: Path) -> Iterator[dict[str, str]]:
    """The environment for a `wschats` using a database nobody has touched yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    env["WSC_DATA_DIR"] = str(data_dir)
    if backend == "sqlite":
        yield env  # the default: a SQLite file inside WSC_DATA_DIR
        return
    name = f"wsc_cli_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        env["WSC_DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        yield env
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Cli:
    env: dict[str, str]

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> Result:
        completed = subprocess.run(
            [WSCHATS, *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its standard output, stripped."""
        result = self.run(*args)
        assert result.code == 0, f"wschats {' '.join(args)} failed: {result}"
        return result.out.strip()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def cli(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """One data folder and database per backend, shared by the tests of a module."""
    with fresh_database(backend, tmp_path_factory.mktemp(f"cli-{backend}")) as env:
        yield Cli(env)


@dataclass
class Server:
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@pytest.fixture(scope="module")
def server(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `wschats serve` on a free loopback port, on the same data as `cli`."""
    data_dir = Path(cli.env["WSC_DATA_DIR"])
    # Named explicitly (the CLI's default file) so a WSC_DATABASE_URL around the tests is ignored.
    default_sqlite = f"sqlite:///{(data_dir / 'wschats.db').resolve()}"
    process = ServerProcess(
        env=server_env(data_dir, cli.env.get("WSC_DATABASE_URL", default_sqlite)),
        log_path=tmp_path_factory.mktemp("server") / "server.log",
    )
    try:
        process.start(timeout=SERVER_START_TIMEOUT_S)
        yield Server(process.url)
    finally:
        process.stop()
