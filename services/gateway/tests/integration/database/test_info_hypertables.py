"""`GET /api/user/database/info` through the real gateway, on whichever cluster
the run has (the tests ask the database): without TimescaleDB no table is a
hypertable and there are no jobs; with it `crypto_prices`, `stock_prices` and
`weather_historic` are hypertables whose compression policies, run here with
`CALL run_job`, succeed and compress chunks, while the API's answers for the
rows they compressed (raw series, the daily continuous aggregates, 4h buckets)
stay byte-identical. A figure whose statement fails is logged and named in
`error` (tested against the real server with a statement it refuses)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from ticktide_gateway.cache import crypto_series, location_series, stock_series
from ticktide_gateway.crypto.price_cache import invalidate_stored
from ticktide_gateway.database import repository as database_repository

pytestmark = pytest.mark.integration

HYPERTABLES = ("crypto_prices", "stock_prices", "weather_historic")
# Older than every compression policy's threshold (30, 180 and 60 days).
OLD = datetime(2003, 3, 1, tzinfo=UTC)


async def has_timescaledb(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        )
    )


async def info(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/api/user/database/info")
    assert response.status_code == 200, response.text
    return dict(response.json())


def tables_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["table"]: t for t in body["tables"]}


async def test_info_says_which_tables_are_hypertables(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    body = await info(api)
    tables = tables_of(body)
    assert set(HYPERTABLES) <= set(tables)
    if not await has_timescaledb(db_pool):
        assert body["timescaledb"] is False
        assert (body["jobs"], body["jobs_error"]) == (None, None)
        assert all(t["hypertable"] is None for t in body["tables"])
        return
    assert body["timescaledb"] is True and body["jobs_error"] is None
    assert {"policy_compression"} <= {j["proc_name"] for j in body["jobs"]}
    for name in HYPERTABLES:
        hypertable = tables[name]["hypertable"]
        assert hypertable is not None, name
        assert hypertable["error"] is None, hypertable["error"]
        assert isinstance(hypertable["chunks"], int)
        assert 0 <= hypertable["compressed_chunks"] <= hypertable["chunks"]
        assert [j["proc_name"] for j in hypertable["jobs"]] == ["policy_compression"]
        assert hypertable["jobs"][0]["hypertable"] == name
        assert tables[name]["size_bytes"] > 0
    assert tables["weather_current"]["hypertable"] is None  # a plain table there too


async def test_a_failing_figure_is_logged_and_named_in_error(
    db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not await has_timescaledb(db_pool):
        pytest.skip("no TimescaleDB in this database: no hypertable figures to fail")
    # What a TimescaleDB without this column would answer: a real error of the server.
    monkeypatch.setattr(
        database_repository,
        "_HYPERTABLE_JOBS",
        "SELECT no_such_column FROM timescaledb_information.jobs WHERE hypertable_name = $1",
    )
    with capture_logs() as logs:
        tables = await database_repository.table_info(db_pool, timescaledb=True)
    figures = {t.table: t for t in tables}["stock_prices"].hypertable
    assert figures is not None
    assert figures["jobs"] is None
    assert figures["error"] is not None and figures["error"].startswith("jobs: ")
    assert "no_such_column" in figures["error"]
    assert isinstance(figures["chunks"], int)  # the other figures are still read
    failed = [e for e in logs if e["event"] == "database.hypertable_figure_failed"]
    assert {e["table"] for e in failed} >= set(HYPERTABLES)
    assert all(e["log_level"] == "error" and e["sqlstate"] == "42703" for e in failed)


async def test_a_failing_row_estimate_of_the_admin_tables_is_logged_and_named(
    db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not await has_timescaledb(db_pool):
        pytest.skip("no TimescaleDB in this database: no hypertable estimate to fail")
    monkeypatch.setattr(
        database_repository, "_HYPERTABLE_ESTIMATE", "SELECT no_such_function($1::regclass)"
    )
    with capture_logs() as logs:
        tables = await database_repository.public_tables(db_pool, timescaledb=True)
    figures = {t.name: t for t in tables}["crypto_prices"].hypertable
    assert figures is not None and figures["error"] is not None
    assert figures["error"].startswith("row estimate: ") and "no_such_function" in figures["error"]
    assert isinstance(figures["chunks"], int) and figures["jobs"] is not None
    failed = [e for e in logs if e["event"] == "database.hypertable_figure_failed"]
    assert {e["figure"] for e in failed} == {"row estimate"} and len(failed) >= 3


async def _answers(
    api: httpx.AsyncClient, queries: list[tuple[str, dict[str, str]]]
) -> list[bytes]:
    bodies = []
    for path, params in queries:
        response = await api.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert response.headers.get("x-cache") != "hit", path  # read from the tables
        bodies.append(response.content)
    return bodies


async def _load_old_rows(db_pool: asyncpg.Pool, market, candle_store) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A crypto symbol, a stock and a location of their own with 40 days of rows
    from OLD on (hours for crypto and weather, days for the stock)."""
    crypto = f"TC{uuid.uuid4().hex[:6].upper()}USDT"
    hours = [OLD + timedelta(hours=h) for h in range(40 * 24)]
    await candle_store(
        db_pool,
        crypto,
        "1h",
        [
            (t, f"{100 + i % 7}.12345678", "200.5", "50.25", "101.00000001", "12.5")
            for i, t in enumerate(hours)
        ],
    )
    stock = market.unique_symbol("TS")
    await market.stock(stock)
    days = [OLD.date() + timedelta(days=d) for d in range(40)]
    await market.bars(
        stock, [(d, "10.5", "11.25", "9.75", f"10.{i:02d}", "1000") for i, d in enumerate(days)]
    )
    location = await market.new_location()
    await market.observations(
        location,
        "historic",
        [(t, 1.5 + i % 11 / 10, 80.0, 1013.25, 3.5, None) for i, t in enumerate(hours)],
    )
    return {"crypto": crypto, "stock": stock, "location": location}


def _entries(body: bytes) -> int:
    """How many candles, hours or days an answer holds (a stock body counts its days)."""
    decoded = json.loads(body)
    value = next(decoded[k] for k in ("candles", "observations", "days") if k in decoded)
    return value if isinstance(value, int) else len(value)


async def _materialize(db_pool: asyncpg.Pool, first: datetime, last: datetime) -> None:
    """Refresh the continuous aggregates over the loaded days: rows loaded into
    days an earlier refresh materialized are seen only after a refresh."""
    names = await db_pool.fetch(
        "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        " WHERE view_schema = 'public'"
    )
    async with db_pool.acquire() as connection:  # a procedure that commits: no transaction
        for row in names:
            await connection.execute(
                f"CALL refresh_continuous_aggregate('public.{row['view_name']}',"  # noqa: S608
                f" '{first.isoformat()}', '{last.isoformat()}')"
            )


async def _compress(db_pool: asyncpg.Pool, table: str) -> asyncpg.Record:
    """Run the table's compression policy now; its job statistics afterwards."""
    job_id = await db_pool.fetchval(
        """SELECT job_id FROM timescaledb_information.jobs
           WHERE proc_name = 'policy_compression' AND hypertable_name = $1""",
        table,
    )
    assert job_id is not None, f"{table} has no compression policy"
    async with db_pool.acquire() as connection:  # a procedure that commits: no transaction
        await connection.execute(f"CALL run_job({int(job_id)})")
    stats = await db_pool.fetchrow(
        "SELECT * FROM timescaledb_information.job_stats WHERE job_id = $1", job_id
    )
    assert stats is not None
    return stats


async def test_compression_policies_succeed_and_answers_stay_byte_identical(
    api: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    market,
    candle_store,  # type: ignore[no-untyped-def]
) -> None:
    if not await has_timescaledb(db_pool):
        pytest.skip("no TimescaleDB in this database: nothing is compressed")
    names = await _load_old_rows(db_pool, market, candle_store)
    start, end = (
        OLD.isoformat().replace("+00:00", "Z"),
        (OLD + timedelta(days=40)).isoformat().replace("+00:00", "Z"),
    )
    queries = [
        (
            "/api/crypto/prices",
            {"symbol": names["crypto"], "interval": "1h", "start": start, "end": end},
        ),
        (
            "/api/stocks/data",
            {"symbol": names["stock"], "start": str(OLD.date()), "end": str(date(2003, 4, 10))},
        ),
        ("/api/weather/historic", {"location": names["location"], "start": start, "end": end}),
        (
            "/api/weather/historic",
            {"location": names["location"], "start": start, "end": end, "aggregate": "daily"},
        ),
        (
            "/api/crypto/aggregates",
            {"symbol": names["crypto"], "bucket": "1d", "start": start, "end": end},
        ),
        (
            "/api/crypto/aggregates",
            {"symbol": names["crypto"], "bucket": "4h", "start": start, "end": end},
        ),
    ]
    await _materialize(db_pool, OLD, OLD + timedelta(days=40))
    before = await _answers(api, queries)
    sizes = [_entries(body) for body in before]
    assert sizes == [960, 40, 960, 40, 40, 240]  # hours, days, hours, days, days, 4h buckets

    for table in HYPERTABLES:
        stats = await _compress(db_pool, table)
        assert stats["last_run_status"] == "Success", (table, dict(stats))

    body = await info(api)
    for table in HYPERTABLES:
        hypertable = tables_of(body)[table]["hypertable"]
        assert hypertable["error"] is None
        assert hypertable["compressed_chunks"] > 0, table
        assert (
            hypertable["before_compression_bytes"] > 0 and hypertable["after_compression_bytes"] > 0
        )
        (job,) = hypertable["jobs"]
        assert (job["last_run_status"], job["total_failures"]) == ("Success", 0), job
    compressed = await db_pool.fetchval(
        """SELECT count(*) FROM timescaledb_information.chunks
           WHERE hypertable_name = 'crypto_prices' AND is_compressed
             AND range_start <= $1 AND range_end > $1""",
        OLD + timedelta(days=5),
    )
    assert compressed == 1  # the rows asked for really sit in a compressed chunk

    await market.cache.invalidate(
        [
            crypto_series(names["crypto"], "1h"),
            stock_series(names["stock"]),
            location_series(names["location"]),
        ]
    )
    # Price answers are cached by the versions of their pieces: drop those too.
    await invalidate_stored(
        market.cache.redis,
        market.cache.prefix,
        names["crypto"],
        "1h",
        OLD - timedelta(days=1),
        OLD + timedelta(days=41),
    )
    after = await _answers(api, queries)
    assert after == before


async def test_admin_tables_answer_lists_the_jobs_too(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    response = await api.get("/api/admin/database/tables")
    assert response.status_code == 200, response.text
    body = response.json()
    tables = {t["name"]: t for t in body["tables"]}
    if not await has_timescaledb(db_pool):
        assert (body["jobs"], body["jobs_error"]) == (None, None)
        assert tables["crypto_prices"]["hypertable"] is None
        return
    assert body["jobs_error"] is None
    compression = {j["hypertable"] for j in body["jobs"] if j["proc_name"] == "policy_compression"}
    assert set(HYPERTABLES) <= compression
    for name in HYPERTABLES:
        hypertable = tables[name]["hypertable"]
        assert hypertable["error"] is None and hypertable["chunks"] is not None
        assert [j["proc_name"] for j in hypertable["jobs"]] == ["policy_compression"]
