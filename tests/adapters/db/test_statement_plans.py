"""The room listing and the attachment pages read through their indexes on a populated
database, so their cost follows the user's rooms and the page size, not the tables' sizes.

The plans are the databases' own (EXPLAIN after ANALYZE), on tables large enough that a
sequential scan is what PostgreSQL's planner chose for the listing before (issue 16).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.repositories import attachment_page_statement, listing_statement
from wschats.devtools import populate

ROOMS = 20_000
MY_ROOMS = 1_000
ATTACHMENTS = 20_000
ME = uuid.UUID(int=42)
ROOM_OF_FILES = uuid.UUID(int=43)


def populated(url: str) -> None:
    upgrade(url)
    batches = populate.rooms({ME: MY_ROOMS}, total=ROOMS)
    now = populate.EPOCH
    batches.insert(
        0,
        populate.Rows("room", populate.ROOM_COLUMNS, [(ROOM_OF_FILES, "group", "f", "", now, now)]),
    )
    batches.append(populate.attachments(ROOM_OF_FILES, ME, ATTACHMENTS))
    populate.write(url, batches)


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[Engine]:
    name = f"wsc_plans_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        populated(url)
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        yield engine
        engine.dispose()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'wschats.db'}"
    populated(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def explained(engine: Engine, statement: Any, parameters: dict[str, Any]) -> Any:
    """The database's plan for `statement`, run as the repositories run it (same SQL, same
    bound values)."""
    prefix = (
        "EXPLAIN (FORMAT JSON) " if engine.dialect.name == "postgresql" else ("EXPLAIN QUERY PLAN ")
    )
    plans: list[Any] = []

    def explain(_conn: Any, cursor: Any, sql: str, bound: Any, *_: Any) -> None:
        cursor.execute(prefix + sql, bound)
        plans.append(cursor.fetchall())

    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", explain)
        conn.execute(statement, parameters).all()
    (plan,) = plans
    return plan[0][0][0]["Plan"] if engine.dialect.name == "postgresql" else plan


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(plan: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(node type, table, index) of every scan in a PostgreSQL plan."""
    return {
        (n["Node Type"], n.get("Relation Name", ""), n.get("Index Name", ""))
        for n in nodes(plan)
        if "Scan" in n["Node Type"]
    }


def cursor_at(engine: Engine, depth: int) -> tuple[datetime, uuid.UUID]:
    """The keyset cursor after the first `depth` attachments."""
    with engine.connect() as conn:
        rows = conn.execute(attachment_page_statement(ROOM_OF_FILES, depth, None)).all()
    return rows[-1].created_at, rows[-1].id


@pytest.mark.postgres
def test_postgres_lists_a_users_rooms_from_their_subscriptions(postgres_engine: Engine) -> None:
    plan = explained(
        postgres_engine, listing_statement("postgresql", with_members=True), {"user_id": ME}
    )
    found = scans(plan)
    assert ("Index Only Scan", "subscription", "ix_subscription_user_room") in found, found
    assert ("Index Scan", "room", "pk_room") in found, found
    assert not {s for s in found if s[0] in ("Seq Scan", "Parallel Seq Scan")}, found


@pytest.mark.postgres
def test_postgres_seeks_an_attachment_page_at_any_depth(postgres_engine: Engine) -> None:
    for depth in (1, 100, ATTACHMENTS - 50):
        statement = attachment_page_statement(ROOM_OF_FILES, 21, cursor_at(postgres_engine, depth))
        plan = explained(postgres_engine, statement, {})
        (scan,) = [n for n in nodes(plan) if "Scan" in n["Node Type"]]
        assert scan["Node Type"] in ("Index Scan", "Index Scan Backward"), scan
        assert scan["Index Name"] == "ix_file_room_page", scan
        # The cursor bounds the index range instead of filtering the rows read.
        assert "ROW(created_at, id) <" in scan["Index Cond"], scan
        assert "Filter" not in scan, scan


def sqlite_steps(plan: list[Any]) -> list[str]:
    return [str(row[-1]) for row in plan]


def test_sqlite_lists_a_users_rooms_from_their_subscriptions(sqlite_engine: Engine) -> None:
    steps = sqlite_steps(
        explained(sqlite_engine, listing_statement("sqlite", with_members=True), {"user_id": ME})
    )
    assert steps[0].startswith("SEARCH me USING COVERING INDEX ix_subscription_user_room"), steps
    assert any(s.startswith("SEARCH room USING INDEX sqlite_autoindex_room") for s in steps), steps
    assert not any(s.startswith("SCAN") for s in steps), steps


def test_sqlite_seeks_an_attachment_page_at_any_depth(sqlite_engine: Engine) -> None:
    for depth in (1, 100, ATTACHMENTS - 50):
        statement = attachment_page_statement(ROOM_OF_FILES, 21, cursor_at(sqlite_engine, depth))
        steps = sqlite_steps(explained(sqlite_engine, statement, {}))
        assert steps == [
            "SEARCH file_metadata USING INDEX ix_file_room_page "
            "(room_id=? AND type=? AND (created_at,id)<(?,?))"
        ], steps
