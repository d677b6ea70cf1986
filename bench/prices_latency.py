"""Bench: latency of `GET /api/crypto/prices` for one year of 1h candles (8,760),
served by a real gateway process, cached (Redis hit) and uncached (PostgreSQL,
serialization and cache store on every request), and of the daily aggregate of
five years of those hourly candles (`GET /api/crypto/aggregates?bucket=1d`,
1,826 days, never cached), on two legs side by side: plain PostgreSQL (the
configured server) and TimescaleDB (`TICKTIDE_TIMESCALEDB_DSN`, else the cluster
`scripts/ensure-timescaledb.sh` starts; the leg is skipped with a notice where
there is none). On TimescaleDB the bench database is what production reaches:
chunks older than 30 days compressed, the daily aggregate materialized, so the
year is read from compressed chunks and the five years from the real-time
continuous aggregate.

A fresh database on each server holds the five years; the gateway runs as
`python -m ticktide_gateway` on a free port with its own bus and Redis prefixes;
everything is removed afterwards. Uncached requests are forced by bumping the
series' cache version in Redis before each one (outside the timed section),
exactly what a `CandlesStoredV1` does. Requests are authenticated with an API
token of a user made in the bench database (as every `/api` route requires),
so the figures include the gateway's credential check. Targets (issue 2):
cached p99 < 5 ms, uncached p99 < 25 ms.

    uv run python bench/prices_latency.py [--requests 300] [--leg both|plain|timescaledb]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from redis.asyncio import Redis

from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.migrate import apply_migrations
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.settings import GatewaySettings
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.repository import PRICE_COLUMNS
from ticktide_writer.service import copy_text

SYMBOL = "BENCHUSDT"
HISTORY_START = datetime(2019, 1, 1, tzinfo=UTC)
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)
HISTORY_END = datetime(2024, 1, 1, tzinfo=UTC)
HOURS = int((HISTORY_END - HISTORY_START) / timedelta(hours=1))  # five years: 43,824
CANDLES = 8760  # the year of YEAR_START
DAYS = (HISTORY_END - HISTORY_START).days  # 1,826
TARGET_P99_MS = {"cached": 5.0, "uncached": 25.0, "daily-5y": 25.0}
REPO = Path(__file__).resolve().parents[1]


def _replace_database(dsn: str, database: str) -> str:
    base, _, rest = dsn.rpartition("/")
    _, _, query = rest.partition("?")
    return f"{base}/{database}" + (f"?{query}" if query else "")


def year_of_candles(seed: int = 7) -> list[tuple[Any, ...]]:
    """A random walk with Binance-style 8-decimal strings."""
    rng = random.Random(seed)
    price = 16500.0
    rows: list[tuple[Any, ...]] = []
    for i in range(HOURS):
        open_ = price
        close = max(1.0, open_ * (1 + rng.gauss(0, 0.004)))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.002)))
        volume = abs(rng.gauss(1200, 400))
        rows.append(
            (
                HISTORY_START + timedelta(hours=i),
                *(Decimal(f"{x:.8f}") for x in (open_, high, low, close, volume)),
            )
        )
        price = close
    return rows


async def _prepare_database(admin_dsn: str, name: str) -> tuple[str, str, bool]:
    """The migrated bench database holding the five years, an API token of a user,
    and whether the database has TimescaleDB (asked, not assumed)."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _replace_database(admin_dsn, name)
    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        crypto_id = await connection.fetchval(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
            " VALUES ('BENCH', 'Bench coin', $1) RETURNING id",
            SYMBOL,
        )
        # Stored as the writer stores a fresh batch (its COPY text, `candle_json` included).
        batch = CandleBatchV1.model_construct(
            batch_id=uuid.uuid4(),
            job_id=None,
            symbol=SYMBOL,
            interval="1h",
            source="binance",
            candles=[
                CandleV1.model_construct(t=t, o=str(o), h=str(h), l=str(lo), c=str(c), v=str(v))
                for t, o, h, lo, c, v in year_of_candles()
            ],
        )
        rendered = copy_text(crypto_id, DeliveredBatch.from_message(batch))
        assert rendered is not None
        await connection.copy_to_table(
            "crypto_prices",
            source=io.BytesIO(rendered[0].encode()),
            columns=PRICE_COLUMNS,
            format="text",
        )
        timescaledb = bool(
            await connection.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        )
        if timescaledb:  # what the policies leave behind in production
            await connection.execute(
                "SELECT compress_chunk(c, if_not_compressed => true)"
                " FROM show_chunks('crypto_prices', older_than => INTERVAL '30 days') c"
            )
            await connection.execute(
                "CALL refresh_continuous_aggregate('crypto_prices_daily', NULL, NULL)"
            )
        await connection.execute("ANALYZE")
        # A Connection has the pool methods the helpers use.
        user_id, _ = await create_test_user(connection)  # type: ignore[arg-type]
        token = await create_test_token(connection, user_id, name="bench")  # type: ignore[arg-type]
    finally:
        await connection.close()
    return dsn, token, timescaledb


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client, so that the figures are the
    gateway's latency rather than a client library's parsing overhead. Timing
    runs from writing the request to reading the last byte of the body."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self._extra_headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveClient:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 22
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{self._extra_headers}\r\n".encode()
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self._reader.readexactly(int(headers["content-length"]))
        return status, headers, body


async def _measure(
    client: KeepAliveClient,
    target: str,
    requests: int,
    expect_cache: str | None,
    before_each: Any = None,
) -> list[float]:
    timings: list[float] = []
    for _ in range(requests):
        if before_each is not None:
            await before_each()
        started = time.perf_counter()
        status, headers, body = await client.get(target)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200 or headers.get("x-cache") != expect_cache:
            raise RuntimeError(
                f"unexpected answer {status} x-cache={headers.get('x-cache')}: {body[:200]!r}"
            )
        timings.append(elapsed)
    return timings


def timescaledb_admin_dsn() -> str | None:
    """The TimescaleDB cluster's admin DSN, or None (with the reason printed)."""
    if dsn := os.environ.get("TICKTIDE_TIMESCALEDB_DSN"):
        return dsn
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-timescaledb.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        print(f"prices_latency: TimescaleDB leg skipped: {done.stderr.strip()}")
        return None
    return done.stdout.strip().splitlines()[-1]


async def run(requests: int = 300, leg: str = "both") -> list[dict[str, Any]]:
    base = GatewaySettings()  # the environment, then .env: the servers of this installation
    legs: list[tuple[str, str]] = []
    if leg in ("both", "plain"):
        legs.append(("plain", _replace_database(base.database_url, "postgres")))
    if leg in ("both", "timescaledb"):
        dsn = timescaledb_admin_dsn()
        if dsn is not None:
            legs.append(("timescaledb", dsn))
    rows: list[dict[str, Any]] = []
    for name, admin_dsn in legs:
        rows.extend(await run_leg(base, name, admin_dsn, requests))
    return rows


async def run_leg(
    base: GatewaySettings, leg: str, admin_dsn: str, requests: int
) -> list[dict[str, Any]]:
    load_before = os.getloadavg()[0]  # other work on the machine skews the tail
    run_id = f"bench{uuid.uuid4().hex[:8]}"
    database = f"ticktide_bench_{run_id}"
    redis_prefix = f"{run_id}:"
    dsn, token, timescaledb = await _prepare_database(admin_dsn, database)
    port = free_port()
    env = {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": dsn,
        "REDIS_URL": base.redis_url,
        "AMQP_URL": base.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_id,
        "TICKTIDE_REDIS_PREFIX": redis_prefix,
        "GATEWAY_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "CRYPTO_SCHEDULER_ENABLED": "0",
    }
    gateway = ServiceProcess(
        "ticktide_gateway", env, port, Path(tempfile.gettempdir()), name=f"bench-gateway-{run_id}"
    )
    redis = Redis.from_url(base.redis_url)
    version_key = f"{redis_prefix}gateway:prices-version:{SYMBOL}:1h"
    keys_key = f"{redis_prefix}gateway:prices-keys:{SYMBOL}:1h"
    params = {
        "symbol": SYMBOL,
        "interval": "1h",
        "start": "2023-01-01T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
    }
    daily_params = {
        "symbol": SYMBOL,
        "bucket": "1d",
        "start": "2019-01-01T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
    }
    try:
        await gateway.start()
        target = f"/api/crypto/prices?{urlencode(params)}"
        async with httpx.AsyncClient(
            base_url=gateway.url, timeout=30.0, headers=bearer(token)
        ) as check_client:
            check = (await check_client.get(target)).json()
            daily_target = f"/api/crypto/aggregates?{urlencode(daily_params)}"
            days = (await check_client.get(daily_target)).json()["candles"]
        if len(check["candles"]) != CANDLES:
            raise RuntimeError(f"expected {CANDLES} candles, got {len(check['candles'])}")
        if len(days) != DAYS or {day["n"] for day in days} != {24}:
            raise RuntimeError(f"expected {DAYS} days of 24 hours, got {len(days)}")
        async with KeepAliveClient("127.0.0.1", port, bearer(token)) as client:
            body_bytes = len((await client.get(target))[2])

            async def invalidate() -> None:  # what the gateway does on CandlesStoredV1
                await asyncio.sleep(0.005)  # let the previous body's background store land
                await redis.incr(version_key)
                stale = await redis.smembers(keys_key)
                if stale:
                    await redis.unlink(*stale)

            await _measure(client, target, 20, "miss", invalidate)  # warm-up
            windows = {"uncached": [datetime.now(UTC)]}
            uncached = await _measure(client, target, requests, "miss", invalidate)
            windows["uncached"].append(datetime.now(UTC))
            await client.get(target)  # stores the body once more
            await asyncio.sleep(0.2)
            await _measure(client, target, 20, "hit")
            windows["cached"] = [datetime.now(UTC)]
            cached = await _measure(client, target, requests, "hit")
            windows["cached"].append(datetime.now(UTC))
            daily_bytes = len((await client.get(daily_target))[2])
            await _measure(client, daily_target, 20, None)
            windows["daily-5y"] = [datetime.now(UTC)]
            daily = await _measure(client, daily_target, requests, None)
            windows["daily-5y"].append(datetime.now(UTC))
        server_ms = await _server_side_times(dsn, windows)
    finally:
        gateway.stop()
        async for key in redis.scan_iter(match=f"{redis_prefix}*", count=500):
            await redis.delete(key)
        await redis.aclose()
        await _delete_bus_names(base.amqp_url, run_id)
        await _drop_database(admin_dsn, database)

    load_after = os.getloadavg()[0]
    rows = []
    cases = (
        ("cached", cached, CANDLES),
        ("uncached", uncached, CANDLES),
        ("daily-5y", daily, DAYS),
    )
    for case, timings, count in cases:
        ordered = sorted(timings)
        p99 = _percentile(ordered, 0.99)
        rows.append(
            {
                "bench": "prices_latency",
                "leg": leg,
                "timescaledb": timescaledb,
                "case": case,
                "candles": count,
                "body_bytes": daily_bytes if case == "daily-5y" else body_bytes,
                "requests": len(ordered),
                "p50_ms": round(_percentile(ordered, 0.50), 2),
                "p99_ms": round(p99, 2),
                "max_ms": round(ordered[-1], 2),
                "target_p99_ms": TARGET_P99_MS[case],
                "server_p50_ms": server_ms[case][0],
                "server_p99_ms": server_ms[case][1],
                "ok": p99 < TARGET_P99_MS[case],
                "load_before": load_before,
                "load_after": load_after,
            }
        )
    return rows


async def _server_side_times(
    dsn: str, windows: dict[str, list[datetime]]
) -> dict[str, tuple[float | None, float | None]]:
    """p50/p99 of the gateway's own measurements (performance_metrics, written in
    batches every couple of seconds) for the requests of each case."""
    query = """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms), count(*)
               FROM performance_metrics
               WHERE endpoint = $3 AND timestamp > $1 AND timestamp <= $2"""
    connection = await asyncpg.connect(dsn)
    try:
        result: dict[str, tuple[float | None, float | None]] = {}
        for case, (since, until) in windows.items():
            row = None
            for _ in range(50):  # until the gateway's flush has written them
                endpoint = "/api/crypto/aggregates" if case == "daily-5y" else "/api/crypto/prices"
                row = await connection.fetchrow(query, since, until, endpoint)
                if row is not None and row[2] > 0:
                    break
                await asyncio.sleep(0.2)
            if row is None or row[2] == 0:
                result[case] = (None, None)
            else:
                result[case] = (round(row[0], 2), round(row[1], 2))
        return result
    finally:
        await connection.close()


async def _delete_bus_names(amqp_url: str, prefix: str) -> None:
    from ticktide_common.testing.fixtures import delete_bus_names
    from ticktide_common.topology import Topology

    await delete_bus_names(amqp_url, Topology(prefix=prefix))


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per case, the legs side by side (p50/p99 of the client's timing)."""
    legs = list(dict.fromkeys(row["leg"] for row in rows))
    by = {(row["leg"], row["case"]): row for row in rows}
    print(
        "GET /api/crypto/prices (one year of 1h candles) and /api/crypto/aggregates "
        f"(1d over five years of 1h candles); {requests_of(rows)} requests per case; "
        f"{os.cpu_count()} CPUs; 1-min load average per leg: "
        + ", ".join(
            f"{leg} {by[(leg, 'cached')]['load_before']:.2f}->"
            f"{by[(leg, 'daily-5y')]['load_after']:.2f}"
            for leg in legs
        )
    )
    header = ["case", "items", "bytes"]
    for leg in legs:
        header += [f"{leg} p50", f"{leg} p99", f"{leg} srv99"]
    header += ["target p99"]
    print("  ".join(f"{h:>16}" for h in header))
    for case in dict.fromkeys(row["case"] for row in rows):
        first = by[(legs[0], case)]
        values: list[object] = [case, first["candles"], first["body_bytes"]]
        for leg in legs:
            row = by[(leg, case)]
            mark = "" if row["ok"] else " !"
            values += [f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}{mark}", row["server_p99_ms"]]
        values.append(f"< {first['target_p99_ms']:g}")
        print("  ".join(f"{v!s:>16}" for v in values))


def requests_of(rows: list[dict[str, Any]]) -> int:
    return int(rows[0]["requests"]) if rows else 0


def main(requests: int = 300, leg: str = "both") -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(requests, leg))
    if rows:
        print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per case")
    parser.add_argument(
        "--leg",
        choices=("both", "plain", "timescaledb"),
        default=os.environ.get("TICKTIDE_BENCH_LEG", "both"),
        help="which cluster(s) to run on (env TICKTIDE_BENCH_LEG)",
    )
    arguments = parser.parse_args()
    main(arguments.requests, arguments.leg)
