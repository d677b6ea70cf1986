"""The /admin/database tools against the real gateway and PostgreSQL: the public
schema's tables with sizes and the planner's estimates, ANALYZE of one table
(names checked against the catalog and quoted) or all, and refreshing continuous
aggregates (409 without TimescaleDB)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

pytestmark = pytest.mark.integration

TABLES = "/api/admin/database/tables"
ANALYZE = "/api/admin/database/analyze"
REFRESH = "/api/admin/database/refresh-aggregates"
ROWS = 1000


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
async def fresh_table(db_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A table just filled with ROWS rows and never analyzed (autovacuum off for
    it, so only our ANALYZE can change its estimate)."""
    name = f"probe_{uuid.uuid4().hex[:8]}"
    await db_pool.execute(
        f"CREATE TABLE {name} (id int PRIMARY KEY, note text) WITH (autovacuum_enabled = false)"
    )
    try:
        await db_pool.execute(
            f"INSERT INTO {name} SELECT g, 'row ' || g FROM generate_series(1, {ROWS}) g"
        )
        yield name
    finally:
        await db_pool.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
async def odd_table(db_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A table whose name needs quoting: mixed case, a space, a quote, a semicolon."""
    name = f'Odd "Name"; {uuid.uuid4().hex[:6]}'
    await db_pool.execute(f"CREATE TABLE {quoted(name)} (id int)")
    try:
        await db_pool.execute(f"INSERT INTO {quoted(name)} SELECT generate_series(1, 10)")
        yield name
    finally:
        await db_pool.execute(f"DROP TABLE IF EXISTS {quoted(name)}")


async def timescaledb(db_pool: asyncpg.Pool) -> bool:
    return bool(
        await db_pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        )
    )


def table_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in body["tables"] if t["name"] == name]
    return found


@pytest.mark.parametrize(
    ("method", "path"), [("GET", TABLES), ("POST", ANALYZE), ("POST", REFRESH)]
)
async def test_admins_only(
    anonymous_api: httpx.AsyncClient, user_api: httpx.AsyncClient, method: str, path: str
) -> None:
    body = {"table": None} if path == ANALYZE else {"name": None}
    assert (await anonymous_api.request(method, path, json=body)).status_code == 401
    response = await user_api.request(method, path, json=body)
    assert response.status_code == 403, response.text


async def test_tables_of_the_public_schema(api: httpx.AsyncClient, db_pool: asyncpg.Pool) -> None:
    response = await api.get(TABLES)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"timescaledb", "tables", "continuous_aggregates", "jobs", "jobs_error"}
    assert body["timescaledb"] is await timescaledb(db_pool)
    expected = {
        r["tablename"]
        for r in await db_pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    names = [t["name"] for t in body["tables"]]
    assert set(names) >= expected and names == sorted(names)
    for table in ("crypto_prices", "users", "schema_migrations", "backtest_results"):
        assert table in names
    users = table_of(body, "users")
    assert users["size_bytes"] > 0 and users["size"].endswith(("bytes", "kB", "MB", "GB"))
    assert users["row_estimate"] is None or users["row_estimate"] >= 0
    if not body["timescaledb"]:
        assert all(t["hypertable"] is None for t in body["tables"])
        assert body["continuous_aggregates"] == []
    else:
        prices = table_of(body, "crypto_prices")
        assert prices["hypertable"] is not None and prices["hypertable"]["chunks"] >= 0
        aggregates = [a["name"] for a in body["continuous_aggregates"]]
        assert "crypto_prices_daily" in aggregates


async def test_analyze_replaces_the_estimate_of_a_fresh_table(
    api: httpx.AsyncClient, fresh_table: str
) -> None:
    before = table_of((await api.get(TABLES)).json(), fresh_table)
    assert before["row_estimate"] is None  # never analyzed: reltuples = -1

    response = await api.post(ANALYZE, json={"table": fresh_table})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["analyzed"] == [{"name": fresh_table, "row_estimate": ROWS}]
    assert result["duration_ms"] >= 0

    after = table_of((await api.get(TABLES)).json(), fresh_table)
    assert after["row_estimate"] == ROWS


async def test_analyze_quotes_a_name_from_the_catalog(
    api: httpx.AsyncClient, odd_table: str, db_pool: asyncpg.Pool
) -> None:
    response = await api.post(ANALYZE, json={"table": odd_table})
    assert response.status_code == 200, response.text
    assert response.json()["analyzed"] == [{"name": odd_table, "row_estimate": 10}]
    assert await db_pool.fetchval("SELECT to_regclass('public.users') IS NOT NULL")


async def test_analyze_all(api: httpx.AsyncClient, fresh_table: str) -> None:
    response = await api.post(ANALYZE, json={"table": None})
    assert response.status_code == 200, response.text
    analyzed = {t["name"]: t["row_estimate"] for t in response.json()["analyzed"]}
    assert {"users", "crypto_prices", fresh_table} <= set(analyzed)
    assert analyzed[fresh_table] == ROWS


@pytest.mark.parametrize(
    "body",
    [
        {"table": "no_such_table"},
        {"table": "users; DROP TABLE users"},
        {"table": "USERS"},  # catalog names are exact
        {"table": "pg_class"},  # not in the public schema
        {"table": 5},
        {"table": ""},
        {"table": "x" * 500},
        {"table": "users", "extra": 1},
    ],
)
async def test_analyze_refuses_what_is_not_a_public_table(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, body: dict[str, Any]
) -> None:
    response = await api.post(ANALYZE, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert await db_pool.fetchval("SELECT to_regclass('public.users') IS NOT NULL")


async def test_analyze_without_a_body_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post(ANALYZE)
    assert response.status_code == 422, response.text


async def test_refresh_without_timescaledb_is_409(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    if await timescaledb(db_pool):
        pytest.skip("TimescaleDB is installed in the test database: the 409 path cannot occur")
    for body in ({"name": None}, {"name": "crypto_prices_daily"}):
        response = await api.post(REFRESH, json=body)
        assert response.status_code == 409, response.text
        assert "TimescaleDB is not installed" in response.json()["detail"]


async def test_refresh_continuous_aggregates(api: httpx.AsyncClient, db_pool: asyncpg.Pool) -> None:
    if not await timescaledb(db_pool):
        available = await db_pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        )
        pytest.skip(
            "TimescaleDB is not installed in the test database"
            + ("" if available else " (this PostgreSQL does not offer the extension)")
            + ": no continuous aggregate to refresh"
        )
    aggregates = [a["name"] for a in (await api.get(TABLES)).json()["continuous_aggregates"]]
    assert aggregates, "the TimescaleDB migrations create continuous aggregates"
    one = await api.post(REFRESH, json={"name": aggregates[0]})
    assert one.status_code == 200, one.text
    assert [r["name"] for r in one.json()["refreshed"]] == [aggregates[0]]
    every = await api.post(REFRESH, json={"name": None})
    assert every.status_code == 200, every.text
    assert [r["name"] for r in every.json()["refreshed"]] == aggregates
    unknown = await api.post(REFRESH, json={"name": "users"})
    assert unknown.status_code == 422, unknown.text
