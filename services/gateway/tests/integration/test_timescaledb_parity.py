"""The gateway answers the same bytes on plain PostgreSQL and on TimescaleDB.

One test loads the same rows into a database on the plain cluster (5432) and one
on the TimescaleDB cluster (`TICKTIDE_TIMESCALEDB_DSN`, else
`scripts/ensure-timescaledb.sh`; skipped with the reason where neither gives
one), runs a real gateway against each and compares the bodies of the daily and
4-hour crypto aggregates, the hourly candles and the daily weather byte for byte.
On TimescaleDB the older days are materialized and the newest are not, so the
real-time aggregate must add them from the raw rows; rows written after the
materialization (missing hours of materialized days, days before them: a
backfill) must be in the answers too; the weather values are random doubles,
whose daily means are not exactly representable.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.migrate import apply_migrations
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

from .conftest import StubService

PLAIN_ADMIN_DSN = os.environ.get(
    "TICKTIDE_PLAIN_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REPO = Path(__file__).resolve().parents[4]
SYMBOL = "PARITYUSDT"
LOCATION = "Parity Town"
DAYS = 12
BACKFILL_DAYS = 3
SERIES_PATH_FIELDS = ("timescaledb", "crypto_daily_aggregate", "weather_daily_aggregate", "path")


def timescaledb_admin_dsn() -> str:
    """The TimescaleDB cluster's admin DSN, or skip saying why there is none."""
    if dsn := os.environ.get("TICKTIDE_TIMESCALEDB_DSN"):
        return dsn
    script = REPO / "scripts" / "ensure-timescaledb.sh"
    done = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode == 3:
        pytest.skip(f"TimescaleDB leg skipped: {done.stderr.strip() or 'unavailable here'}")
    assert done.returncode == 0, f"ensure-timescaledb.sh failed: {done.stderr.strip()}"
    return done.stdout.strip().splitlines()[-1]


def _database_dsn(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rpartition('/')[0]}/{name}"


def _rows(
    now: datetime, backfill: bool = False
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Hourly candles and weather hours from DAYS days ago up to the current hour,
    every 37th missing; with `backfill` the rows written later: the missing hours
    of the older days and BACKFILL_DAYS whole days before the first."""
    rng = random.Random(11)
    first = (now - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    hours = int((now - first) // timedelta(hours=1)) + 1
    candles: list[tuple[object, ...]] = []
    weather: list[tuple[object, ...]] = []
    for i in range(-24 * BACKFILL_DAYS, hours):
        t = first + timedelta(hours=i)
        late = i < 0 or (i % 37 == 5 and t < now - timedelta(days=2))
        if i >= 0 and i % 37 == 5 and not late:
            continue  # a missing hour: counts differ between buckets
        if late != backfill:
            rng.random()
            continue
        base = Decimal(30000 + rng.randrange(-5000, 5000)) + Decimal(rng.randrange(100)) / 100
        o, c = base, base + Decimal(rng.randrange(-300, 300)) / 10
        h = max(o, c) + Decimal("0.01") * rng.randrange(1, 50)
        lo = min(o, c) - Decimal("0.001") * rng.randrange(1, 50)
        volume = Decimal(rng.randrange(1, 10**9)) / Decimal(10 ** rng.randrange(0, 9))
        source = "binance-archive" if i < 48 else "binance"
        candles.append((t, o, h, lo, c, volume, source))
        weather.append(
            (
                t,
                rng.uniform(-20, 30),
                rng.uniform(0, 100) if i % 11 else None,
                1000 + rng.random() / 3,
                rng.uniform(0, 15),
                "open-meteo" if i % 50 else "simulated",
            )
        )
    return candles, weather


async def _load(pool: asyncpg.Pool, now: datetime, backfill: bool = False) -> None:
    candles, weather = _rows(now, backfill)
    crypto_id = await pool.fetchval(
        "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
        " VALUES ('PARITY', 'Parity', $1)"
        " ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true RETURNING id",
        SYMBOL,
    )
    await pool.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                                      low_price, close_price, volume, source)
           VALUES ($1, $2, '1h', $3, $4, $5, $6, $7, $8)""",
        [(crypto_id, *row) for row in candles],
    )
    await pool.execute(
        "INSERT INTO weather_locations (name, latitude, longitude) VALUES ($1, 60.0, 25.0)"
        " ON CONFLICT DO NOTHING",
        LOCATION,
    )
    await pool.executemany(
        """INSERT INTO weather_historic (location, datetime, temperature, humidity, pressure,
                                         wind_speed, description, source, weather_data)
           VALUES ($1, $2, $3, $4, $5, $6, 'cloudy', $7, '{}'::jsonb)""",
        [(LOCATION, *row) for row in weather],
    )


async def _materialize_older_days(pool: asyncpg.Pool, now: datetime) -> None:
    """Refresh both aggregates up to yesterday, and check that today is then not
    materialized (so only real-time aggregation can answer it). The refresh policy
    0014 adds is paused meanwhile, and a run of it waited for: a policy run beside
    this refresh can take the invalidations this one would materialize and commit
    after the check below (seen once: an empty aggregate). It is scheduled again
    afterwards, as it was."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    policies = """FROM timescaledb_information.jobs
                  WHERE proc_name = 'policy_refresh_continuous_aggregate'"""
    await pool.execute(f"SELECT alter_job(job_id, scheduled => false) {policies}")  # noqa: S608
    for _ in range(240):
        running = await pool.fetchval(
            f"""SELECT count(*) FROM timescaledb_information.job_stats
                WHERE job_status = 'Running' AND job_id IN (SELECT job_id {policies})"""  # noqa: S608
        )
        if not running:
            break
        await asyncio.sleep(0.25)
    else:
        raise AssertionError("a refresh policy's run never ended")
    for view in ("crypto_prices_daily", "weather_historic_daily"):
        for attempt in range(60):
            try:
                await pool.execute(
                    f"CALL refresh_continuous_aggregate('{view}', NULL, $1::timestamptz)",
                    today - timedelta(days=1),
                )
                break
            except asyncpg.LockNotAvailableError:
                assert attempt < 59, f"{view}: the policy's refresh never ended"
                await asyncio.sleep(0.5)
        table = await pool.fetchval(
            """SELECT format('%I.%I', materialization_hypertable_schema,
                                      materialization_hypertable_name)
               FROM timescaledb_information.continuous_aggregates WHERE view_name = $1""",
            view,
        )
        newest = await pool.fetchval(f"SELECT max(bucket) FROM {table}")  # noqa: S608
        assert newest is not None and newest < today, (view, newest, today)
    await pool.execute(f"SELECT alter_job(job_id, scheduled => true) {policies}")  # noqa: S608


@asynccontextmanager
async def _leg(
    admin_dsn: str,
    now: datetime,
    env: dict[str, str],
    log_dir: Path,
    name: str,
) -> AsyncIterator[tuple[bool, httpx.AsyncClient, ServiceProcess]]:
    """A migrated database on `admin_dsn` with the rows, and a gateway on it: yields
    (TimescaleDB present, as the database says; a signed-in client; the gateway)."""
    database = f"ticktide_parity_{name}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = _database_dsn(admin_dsn, database)
    async with AsyncExitStack() as stack:

        async def drop() -> None:
            connection = await asyncpg.connect(admin_dsn)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await connection.close()

        stack.push_async_callback(drop)
        await apply_migrations(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        assert pool is not None
        stack.push_async_callback(pool.close)
        await _load(pool, now)
        timescaledb = bool(
            await pool.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        )
        if timescaledb:
            await _materialize_older_days(pool, now)
        # Written after the materialization: days the aggregate holds without them.
        await _load(pool, now, backfill=True)
        user_id, _ = await create_test_user(pool, role="user")
        token = await create_test_token(pool, user_id)
        port = free_port()
        process = ServiceProcess(
            "ticktide_gateway",
            {
                **env,
                "DATABASE_URL": dsn,
                "TICKTIDE_REDIS_PREFIX": f"{env['TICKTIDE_REDIS_PREFIX']}{name}:",
                "GATEWAY_PORT": str(port),
            },
            port,
            log_dir,
            name=f"gateway-{name}",
        )
        await process.start()
        stack.callback(process.stop)
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=process.url, timeout=30.0, headers=bearer(token))
        )
        yield timescaledb, client, process


def _logged_path(gateway: ServiceProcess) -> dict[str, object]:
    """The `gateway.series_path` start-up log line's fields."""
    for line in gateway.log_path.read_text().splitlines():
        if '"gateway.series_path"' in line:
            entry = json.loads(line)
            return {key: entry[key] for key in SERIES_PATH_FIELDS}
    raise AssertionError(f"{gateway.name} logged no series path:\n{gateway.log_tail()}")


def _queries(now: datetime) -> list[tuple[str, dict[str, str]]]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = (day + timedelta(days=1)).strftime("%Y-%m-%d")
    start = (day - timedelta(days=DAYS + BACKFILL_DAYS)).strftime("%Y-%m-%d")
    odd_start = (day - timedelta(days=DAYS - 1, hours=-7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    odd_end = (now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    crypto = {"symbol": SYMBOL, "start": start, "end": tomorrow}
    weather = {"location": LOCATION, "start": start, "end": tomorrow, "aggregate": "daily"}
    return [
        ("/api/crypto/aggregates", {**crypto, "bucket": "1d"}),
        ("/api/crypto/aggregates", {**crypto, "bucket": "4h"}),
        ("/api/crypto/aggregates", {**crypto, "bucket": "1d", "start": odd_start}),
        ("/api/crypto/prices", {**crypto, "interval": "1h"}),
        ("/api/weather/historic", weather),
        ("/api/weather/historic", {**weather, "start": odd_start, "end": odd_end}),
        ("/api/weather/historic", {"location": LOCATION, "start": start, "end": tomorrow}),
    ]


async def test_plain_and_timescaledb_answer_the_same_bytes(
    service_env: dict[str, str],
    log_dir: Path,
    stub_services: dict[str, StubService],
    bus: Bus,  # set up first: the run's queues are deleted after both gateways stop
) -> None:
    timescaledb_dsn = timescaledb_admin_dsn()
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 30:
        now += timedelta(minutes=1)  # both legs must see the same current hour
    env = {
        **service_env,
        "INGEST_CRYPTO_URL": stub_services["ingest-crypto"].url,
        "INGEST_STOCKS_URL": stub_services["ingest-stocks"].url,
        "INGEST_WEATHER_URL": stub_services["ingest-weather"].url,
        "WRITER_URL": stub_services["writer"].url,
        "AUTH_URL": stub_services["auth"].url,
        "WEB_URL": stub_services["web"].url,
        "MAX_CANDLES_PER_REQUEST": "20000",
    }
    async with (
        _leg(PLAIN_ADMIN_DSN, now, env, log_dir, "plain") as (plain_tsdb, plain, plain_gateway),
        _leg(timescaledb_dsn, now, env, log_dir, "tsdb") as (tsdb, timescale, tsdb_gateway),
    ):
        if plain_tsdb:
            pytest.skip(f"{PLAIN_ADMIN_DSN} has TimescaleDB: no plain path to compare against")
        assert tsdb, "the TimescaleDB cluster's database has no timescaledb extension"
        # Each gateway asked its database once at start-up and logged the path taken.
        assert _logged_path(plain_gateway)["timescaledb"] is False, plain_gateway.log_tail()
        assert _logged_path(tsdb_gateway) | {"path": None} == {
            "timescaledb": True,
            "crypto_daily_aggregate": True,
            "weather_daily_aggregate": True,
            "path": None,
        }, tsdb_gateway.log_tail()
        today = now.strftime("%Y-%m-%d")
        for path, params in _queries(now):
            left = await plain.get(path, params=params)
            right = await timescale.get(path, params=params)
            assert left.status_code == right.status_code == 200, (path, params, left.text)
            assert left.content == right.content, (path, params, left.text, right.text)
            body = left.json()
            entries = body.get("candles") or body.get("days") or body.get("observations")
            assert entries, (path, params, body)
            newest = entries[-1].get("t") or entries[-1].get("date")
            assert newest.startswith(today), (path, params, newest)  # the unmaterialized day
