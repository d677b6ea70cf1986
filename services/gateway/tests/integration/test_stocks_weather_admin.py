"""Admin side of stocks and weather: backfill requests (job row with its domain,
command on the ingester's queue), database info, and who may call what."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import TypeVar

import asyncpg
import httpx
import pytest
from pydantic import BaseModel

from ticktide_common.bus import Bus
from ticktide_common.messages import StocksBackfillRequestedV1, WeatherBackfillRequestedV1
from ticktide_common.topology import INGEST_STOCKS_BACKFILLS, INGEST_WEATHER_BACKFILLS, QueueSpec

M = TypeVar("M", bound=BaseModel)


async def _take_command(
    bus: Bus, spec: QueueSpec, model: type[M], job_id: str, timeout: float = 10.0
) -> M:
    """The command of `job_id` from an ingester's queue; others go back."""
    channel = await bus.connection.channel()
    try:
        queue = await channel.declare_queue(bus.topology.queue_name(spec), passive=True)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            command = model.model_validate_json(message.body)
            if str(getattr(command, "job_id", None)) == job_id:
                await message.ack()
                return command
            await message.nack(requeue=True)
        raise AssertionError(f"no command for job {job_id} in {spec.name}")
    finally:
        await channel.close()


async def test_stocks_backfill_records_job_and_publishes_command(
    api: httpx.AsyncClient, bus: Bus, db_pool: asyncpg.Pool, admin_user: tuple[int, str, str]
) -> None:
    response = await api.post(
        "/api/admin/ingest/stocks/backfill",
        json={"symbol": "nda-fi", "start": "2024-01-01", "end": "2024-02-01"},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.json()["status_url"] == f"/api/admin/ingest/jobs/{job_id}"
    row = await db_pool.fetchrow("SELECT * FROM ingest_jobs WHERE id = $1", uuid.UUID(job_id))
    assert row is not None
    assert (row["domain"], row["kind"], row["symbol"], row["interval_type"], row["status"]) == (
        "stocks",
        "backfill",
        "NDA-FI",
        "1d",
        "queued",
    )
    assert (row["range_start"], row["range_end"]) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    )
    assert row["requested_by"] == admin_user[1]
    command = await _take_command(bus, INGEST_STOCKS_BACKFILLS, StocksBackfillRequestedV1, job_id)
    assert (command.symbol, command.exchange, command.start, command.end) == (
        "NDA-FI",
        "OMXH",
        date(2024, 1, 1),
        date(2024, 2, 1),
    )
    status = (await api.get(f"/api/admin/ingest/jobs/{job_id}")).json()
    assert (status["status"], status["symbol"]) == ("queued", "NDA-FI")


async def test_weather_backfill_aligns_to_hours_and_publishes_command(
    api: httpx.AsyncClient, bus: Bus, db_pool: asyncpg.Pool
) -> None:
    response = await api.post(
        "/api/admin/ingest/weather/backfill",
        json={
            "location": "new york",
            "start": "2024-03-01T10:30:00+02:00",
            "end": "2024-03-03T00:00:01Z",
        },
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    row = await db_pool.fetchrow("SELECT * FROM ingest_jobs WHERE id = $1", uuid.UUID(job_id))
    assert row is not None
    assert (row["domain"], row["symbol"], row["interval_type"]) == ("weather", "New York", "1h")
    command = await _take_command(bus, INGEST_WEATHER_BACKFILLS, WeatherBackfillRequestedV1, job_id)
    assert (command.location, command.start, command.end) == (
        "New York",
        datetime(2024, 3, 1, 8, tzinfo=UTC),
        datetime(2024, 3, 3, 1, tzinfo=UTC),
    )


async def test_database_info_lists_the_tables(
    api: httpx.AsyncClient,
    market,  # type: ignore[no-untyped-def]
    db_pool: asyncpg.Pool,
) -> None:
    location = await market.new_location()
    await market.observations(
        location, "historic", [(datetime(2001, 2, 3, tzinfo=UTC), 1.0, 1.0, 1.0, 1.0, None)]
    )
    response = await api.get("/api/user/database/info")
    assert response.status_code == 200, response.text
    body = response.json()
    timescaledb = await db_pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    )
    assert body["timescaledb"] is timescaledb
    tables = {t["table"]: t for t in body["tables"]}
    assert {
        "crypto_prices",
        "stock_prices",
        "weather_current",
        "weather_historic",
        "user_activity_log",
        "security_events",
        "performance_metrics",
        "backtests",
        "backtest_results",
    } <= set(tables)
    historic = tables["weather_historic"]
    assert set(historic) == {"table", "rows", "size_bytes", "size", "first", "last", "hypertable"}
    assert historic["rows"] >= 1 and historic["size_bytes"] > 0 and historic["size"]
    assert historic["first"] <= "2001-02-03T00:00:00Z"
    assert (historic["hypertable"] is not None) is timescaledb  # details in test_database_info_*


USER_ROUTES = [
    "/api/stocks/data?symbol=AAPL",
    "/api/stocks/multi?symbols=AAPL,NOKIA",
    "/api/stocks/prices?symbol=AAPL",
    "/api/stocks/latest",
    "/api/stocks/stats?symbol=AAPL",
    "/api/weather/current?location=Helsinki",
    "/api/weather/historic?location=Helsinki",
]
ADMIN_ROUTES = [
    ("GET", "/api/stocks/quality?symbol=AAPL"),
    ("GET", "/api/user/database/info"),
    ("POST", "/api/admin/ingest/stocks/backfill"),
    ("POST", "/api/admin/ingest/weather/backfill"),
]


@pytest.mark.parametrize(("method", "path"), [("GET", p) for p in USER_ROUTES] + ADMIN_ROUTES)
async def test_anonymous_is_401(anonymous_api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await anonymous_api.request(method, path, json={"symbol": "AAPL"})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "authentication required"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_user_on_admin_route_is_403(
    user_api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await user_api.request(method, path, json={"not": "looked at"})
    assert response.status_code == 403, response.text
    assert "admin" in response.json()["detail"]


@pytest.mark.parametrize("path", USER_ROUTES)
async def test_user_routes_open_to_users(user_api: httpx.AsyncClient, path: str) -> None:
    response = await user_api.get(path)
    assert response.status_code in (200, 404), response.text  # 404: no current weather yet
    if response.status_code == 404:
        assert "no current weather stored" in response.json()["detail"]
