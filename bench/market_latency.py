"""Bench: latency of the stock and weather endpoints served by a real gateway
process, cached (a Redis/in-process hit) and uncached (PostgreSQL, serialization
and cache store on every request).

A fresh database on the configured server (prices_latency's, with its API-token
user) gets 20 years of weekday bars for each of the 10 seeded stocks (NASDAQ
with an open, OMXH without) and 3 years of hourly history for each of the 4
seeded locations, loaded with COPY. The gateway runs as `python -m
ticktide_gateway` with its own bus and Redis prefixes; everything is removed
afterwards. Uncached requests are forced, outside the timed section, by the
invalidation the gateway itself runs on `StockPricesStoredV1` /
`WeatherStoredV1` (series versions bumped, old bodies deleted). Targets
(issue 5): cached p99 < 5 ms; uncached p99 < 25 ms, < 50 ms for the statistics
over 20 years and the daily aggregates of a year.

    uv run python bench/market_latency.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import asyncpg
from redis.asyncio import Redis

from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer
from ticktide_gateway.cache import (
    LATEST_STOCKS,
    ResponseCache,
    SeriesKey,
    location_series,
    stock_series,
)
from ticktide_gateway.settings import GatewaySettings

BENCH_DIR = Path(__file__).resolve().parent


def _sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"ticktide_bench_{name}", BENCH_DIR / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


latency = _sibling("prices_latency")

YEARS_OF_BARS = 20
YEARS_OF_WEATHER = 3
CACHED_TARGET_MS = 5.0
# symbol: (exchange, price 20 years ago, decimals of its quotes)
STOCKS = {
    "AAPL": ("NASDAQ", 11.0, 2),
    "MSFT": ("NASDAQ", 27.0, 2),
    "NVDA": ("NASDAQ", 4.5, 2),
    "GOOGL": ("NASDAQ", 11.5, 2),
    "AMZN": ("NASDAQ", 2.3, 2),
    "NOKIA": ("OMXH", 12.0, 4),
    "NDA-FI": ("OMXH", 8.0, 3),
    "KNEBV": ("OMXH", 18.0, 2),
    "SAMPO": ("OMXH", 8.5, 3),
    "UPM": ("OMXH", 15.0, 2),
}
# location: (mean °C, seasonal amplitude °C, pressure hPa)
LOCATIONS = {
    "Helsinki": (6.0, 11.0, 1012.0),
    "New York": (13.0, 12.0, 1016.0),
    "London": (11.0, 7.0, 1014.0),
    "Tokyo": (16.0, 10.0, 1013.0),
}
WEATHER_CODES = {0: "Clear sky", 2: "Partly cloudy", 3: "Overcast", 61: "Slight rain", 71: "Snow"}


def sessions(last: date) -> list[date]:
    """The weekdays of the YEARS_OF_BARS years up to `last`."""
    day, found = last - timedelta(days=365 * YEARS_OF_BARS), []
    while day <= last:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def stock_bars(stock_id: int, symbol: str, days: list[date]) -> list[tuple[Any, ...]]:
    """A random walk in the exchange's quoting: NASDAQ with an open, OMXH with
    NULL open plus average price and turnover."""
    exchange, price, decimals = STOCKS[symbol]
    rng, step = random.Random(symbol), Decimal(1).scaleb(-decimals)
    rows: list[tuple[Any, ...]] = []
    for day in days:
        open_ = price * math.exp(rng.gauss(0, 0.006))
        close = open_ * math.exp(rng.gauss(0.0003, 0.017))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.006)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.006)))
        o, h, lo, c = (Decimal(x).quantize(step) for x in (open_, high, low, close))
        volume = Decimal(int(rng.lognormvariate(15.5 if exchange == "NASDAQ" else 14.0, 0.4)))
        when = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if exchange == "NASDAQ":
            rows.append((stock_id, when, o, h, lo, c, volume, None, None, "nasdaq"))
        else:
            average = ((h + lo + c) / 3).quantize(step)
            turnover = (average * volume).quantize(Decimal("0.01"))
            rows.append(
                (stock_id, when, None, h, lo, c, volume, average, turnover, "nasdaq-nordic")
            )
        price = max(close, 0.05)
    return rows


def weather_hours(location: str, last_hour: datetime) -> list[tuple[Any, ...]]:
    """Open-Meteo-like hours: seasonal and daily temperature cycles, rounded as
    the provider rounds, a small `weather_data` payload."""
    mean, amplitude, base_pressure = LOCATIONS[location]
    rng = random.Random(location)
    hours = 365 * 24 * YEARS_OF_WEATHER
    pressure, rows = base_pressure, []
    for i in range(hours):
        when = last_hour - timedelta(hours=hours - 1 - i)
        season = -math.cos(2 * math.pi * (when.timetuple().tm_yday - 15) / 365.25)
        daily = -math.cos(2 * math.pi * (when.hour - 3) / 24)
        temperature = round(mean + amplitude * season + 3 * daily + rng.gauss(0, 1.5), 1)
        pressure = min(1045.0, max(975.0, pressure + rng.gauss(0, 0.6)))
        humidity = round(min(100.0, max(25.0, 75 - 12 * daily + rng.gauss(0, 8))))
        wind = round(rng.gammavariate(2.0, 2.0), 1)
        code = rng.choice(list(WEATHER_CODES))
        if code == 71 and temperature > 1:
            code = 61
        payload = {"weather_code": code, "precipitation": 0.0 if code < 61 else 0.4}
        rows.append(
            (
                location,
                when,
                temperature,
                float(humidity),
                round(pressure, 1),
                wind,
                WEATHER_CODES[code],
                "open-meteo",
                json.dumps(payload),
            )
        )
    return rows


async def _seed(dsn: str, days: list[date], last_hour: datetime) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        ids = {
            r["symbol"]: r["id"] for r in await connection.fetch("SELECT id, symbol FROM stocks")
        }
        bars = [row for symbol in STOCKS for row in stock_bars(ids[symbol], symbol, days)]
        await connection.copy_records_to_table(
            "stock_prices",
            records=bars,
            columns=[
                "stock_id",
                "datetime",
                "open_price",
                "high_price",
                "low_price",
                "close_price",
                "volume",
                "average_price",
                "turnover",
                "source",
            ],
        )
        hours = [row for location in LOCATIONS for row in weather_hours(location, last_hour)]
        await connection.copy_records_to_table(
            "weather_historic",
            records=hours,
            columns=[
                "location",
                "datetime",
                "temperature",
                "humidity",
                "pressure",
                "wind_speed",
                "description",
                "source",
                "weather_data",
            ],
        )
        await connection.execute("ANALYZE stock_prices")
        await connection.execute("ANALYZE weather_historic")
    finally:
        await connection.close()


class Case(NamedTuple):  # not a dataclass: bench/run.py loads this file without sys.modules
    name: str
    target: str
    series: Sequence[SeriesKey]  # what the stored event of its data invalidates
    count: Callable[[dict[str, Any]], int]  # items in a body; raises if malformed
    expected: int
    uncached_target_ms: float


def _bars(body: dict[str, Any], exchange: str) -> int:
    if body["exchange"] != exchange:
        raise RuntimeError(f"unexpected exchange in {str(body)[:200]}")
    prices = body["prices"]
    opens = {p["o"] is None for p in prices}
    if opens != {exchange == "OMXH"}:
        raise RuntimeError(f"{body['symbol']}: open present/absent wrongly")
    return len(prices)


def _multi(body: dict[str, Any]) -> int:
    aapl, nokia = body["stocks"]
    counts = {_bars(aapl, "NASDAQ"), _bars(nokia, "OMXH")}
    if len(counts) != 1:
        raise RuntimeError(f"AAPL and NOKIA bar counts differ: {counts}")
    return counts.pop()


def _latest(body: dict[str, Any]) -> int:
    if any(s["date"] is None or s["change"] is None for s in body["stocks"]):
        raise RuntimeError(f"a stock without a latest bar: {str(body)[:300]}")
    return len(body["stocks"])


def _daily(body: dict[str, Any]) -> int:
    if any(d["hours"] != 24 for d in body["days"]):
        raise RuntimeError("a day without 24 hours")
    return len(body["days"])


def _cases(days: list[date], now: datetime) -> list[Case]:
    """The measured requests; windows relative to the seeded data and `now`."""
    year_start = days[-1] - timedelta(days=365)
    in_year = sum(1 for d in days if d >= year_start)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    aapl, nokia, helsinki = stock_series("AAPL"), stock_series("NOKIA"), location_series("Helsinki")
    year = {"start": year_start.isoformat()}
    daily = {"location": "Helsinki", "aggregate": "daily"}
    week_start = (next_hour - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Case(
            "stocks/prices AAPL 1y",
            "/api/stocks/prices?" + urlencode({"symbol": "AAPL", **year}),
            [aapl, LATEST_STOCKS],
            lambda b: _bars(b, "NASDAQ"),
            in_year,
            25.0,
        ),
        Case(
            "stocks/stats AAPL 20y",
            "/api/stocks/stats?symbol=AAPL",
            [aapl, LATEST_STOCKS],
            lambda b: int(b["days"]),
            len(days),
            50.0,
        ),
        Case(
            "stocks/multi AAPL,NOKIA 1y",
            "/api/stocks/multi?" + urlencode({"symbols": "AAPL,NOKIA", **year}),
            [aapl, nokia, LATEST_STOCKS],
            _multi,
            in_year,
            25.0,
        ),
        Case("stocks/latest", "/api/stocks/latest", [LATEST_STOCKS], _latest, len(STOCKS), 25.0),
        Case(
            "weather daily Helsinki 1y",
            "/api/weather/historic?"
            + urlencode(
                {
                    **daily,
                    "start": (today - timedelta(days=365)).date().isoformat(),
                    "end": today.date().isoformat(),
                }
            ),
            [helsinki],
            _daily,
            365,
            50.0,
        ),
        Case(
            "weather hourly Helsinki 7d",
            "/api/weather/historic?" + urlencode({"location": "Helsinki", "start": week_start}),
            [helsinki],
            lambda b: len(b["observations"]),
            7 * 24,
            25.0,
        ),
    ]


async def _run_case(
    client: Any, cache: ResponseCache, case: Case, requests: int
) -> dict[str, list[float] | int]:
    status, _, raw = await client.get(case.target)
    if status != 200:
        raise RuntimeError(f"{case.name}: HTTP {status}: {raw[:300]!r}")
    found = case.count(json.loads(raw))
    if found != case.expected:
        raise RuntimeError(f"{case.name}: expected {case.expected} items, got {found}")

    async def invalidate() -> None:  # what the gateway does on the stored event
        await asyncio.sleep(0.005)  # let the previous body's background store land
        await cache.invalidate(case.series)

    await latency._measure(client, case.target, 10, "miss", invalidate)  # warm-up
    uncached = await latency._measure(client, case.target, requests, "miss", invalidate)
    await client.get(case.target)  # stores the body once more
    await asyncio.sleep(0.2)
    await latency._measure(client, case.target, 20, "hit")
    cached = await latency._measure(client, case.target, requests, "hit")
    return {"cached": cached, "uncached": uncached, "items": found, "body_bytes": len(raw)}


async def run(requests: int = 200) -> list[dict[str, Any]]:
    load_before = os.getloadavg()[0]  # other work on the machine skews the tail
    base = GatewaySettings()
    run_id = f"bench{uuid.uuid4().hex[:8]}"
    admin_dsn = latency._replace_database(base.database_url, "postgres")
    database = f"ticktide_bench_{run_id}"
    redis_prefix = f"{run_id}:"
    now = datetime.now(UTC)
    days = sessions(now.date() - timedelta(days=1))
    # One hour past the current one, so that an hour turning during the run still
    # finds a full week before the new current hour.
    last_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    redis = Redis.from_url(base.redis_url)
    cache = ResponseCache(redis, redis_prefix, ttl_seconds=base.cache_ttl_seconds)
    results: list[tuple[Case, dict[str, Any]]] = []
    seed_seconds = 0.0
    gateway: ServiceProcess | None = None
    try:
        started = time.perf_counter()
        dsn, token = await latency._prepare_database(admin_dsn, database)
        await _seed(dsn, days, last_hour)
        seed_seconds = time.perf_counter() - started
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
        }
        logs = Path(tempfile.gettempdir())
        gateway = ServiceProcess("ticktide_gateway", env, port, logs, name=f"bench-gw-{run_id}")
        await gateway.start()
        async with latency.KeepAliveClient("127.0.0.1", port, bearer(token)) as client:
            for index in range(len(_cases(days, now))):
                for attempt in (1, 2):
                    hour = datetime.now(UTC).hour
                    case = _cases(days, datetime.now(UTC))[index]
                    try:
                        results.append((case, await _run_case(client, cache, case, requests)))
                        break
                    except RuntimeError:
                        # The default end of the weekly window moved with the hour.
                        if attempt == 2 or datetime.now(UTC).hour == hour:
                            raise
    finally:
        if gateway is not None:
            gateway.stop()
        async for key in redis.scan_iter(match=f"{redis_prefix}*", count=500):
            await redis.delete(key)
        await redis.aclose()
        await latency._delete_bus_names(base.amqp_url, run_id)
        await latency._drop_database(admin_dsn, database)

    load_after = os.getloadavg()[0]
    rows = []
    for case, measured in results:
        for kind, target in (("cached", CACHED_TARGET_MS), ("uncached", case.uncached_target_ms)):
            ordered = sorted(measured[kind])
            p99 = latency._percentile(ordered, 0.99)
            rows.append(
                {
                    "bench": "market_latency",
                    "case": case.name,
                    "cache": kind,
                    "items": measured["items"],
                    "body_bytes": measured["body_bytes"],
                    "requests": len(ordered),
                    "p50_ms": round(latency._percentile(ordered, 0.50), 2),
                    "p99_ms": round(p99, 2),
                    "max_ms": round(ordered[-1], 2),
                    "target_p99_ms": target,
                    "ok": p99 < target,
                    "seed_s": round(seed_seconds, 1),
                    "load_before": load_before,
                    "load_after": load_after,
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"Stock and weather endpoints ({len(STOCKS)} stocks x {YEARS_OF_BARS} years of daily "
        f"bars, {len(LOCATIONS)} locations x {YEARS_OF_WEATHER} years of hours; seeded in "
        f"{rows[0]['seed_s']} s; 1-min load average {rows[0]['load_before']:.2f} before, "
        f"{rows[0]['load_after']:.2f} after, {os.cpu_count()} CPUs)"
    )
    header = ("case", "cache", "items", "bytes", "requests", "p50 ms", "p99 ms", "max ms")
    print(f"{header[0]:<28}" + "".join(f"{h:>10}" for h in header[1:]) + "  target p99  ok")
    for row in rows:
        values = (
            row["cache"],
            row["items"],
            row["body_bytes"],
            row["requests"],
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['max_ms']:.2f}",
        )
        print(
            f"{row['case']:<28}"
            + "".join(f"{v!s:>10}" for v in values)
            + f"  {'< ' + format(row['target_p99_ms'], 'g'):>10}  {'yes' if row['ok'] else 'NO'}"
        )


def main(requests: int = 200) -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(requests))
    print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    main(parser.parse_args().requests)
