"""The browser tests' stack and data: `make up` on this run's own ports, database
and prefixes with fake upstreams, `make down` after; users (signed in through the
API into a browser context); market data loaded through the fake upstreams by the
admin API, plus one simulated series written straight into the database."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from playwright.async_api import BrowserContext

from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.market import forget_stock_rows, forget_weather_rows
from ticktide_common.testing.processes import free_port, wait_until
from ticktide_common.topology import Topology
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo

__all__ = [
    "BACKTEST_SYMBOL",
    "PASSWORD",
    "REAL_SYMBOL",
    "SIMULATED_SYMBOL",
    "BrowserStack",
    "MarketData",
    "load_market_data",
    "forget_market_data",
    "make_down",
    "make_up",
    "register",
    "sign_in",
    "stack_environment",
]

PASSWORD = "correct horse battery staple"
# Pairs of this suite's own (other tests of the run share the database).
REAL_SYMBOL = "TTBRWUSDT"  # loaded from the fake Binance by an admin backfill
SIMULATED_SYMBOL = "TTBSIMUSDT"  # written into crypto_prices with source 'simulated'
BACKTEST_SYMBOL = REAL_SYMBOL
STOCKS = ("AAPL", "NOKIA")  # NASDAQ with an open, Helsinki without
NORDIC_NAMES = {"NOKIA": "NOKIA"}
LOCATIONS = {"Helsinki": (60.1699, 24.9384), "London": (51.5074, -0.1278)}
CRYPTO_DAYS = 60
STOCK_DAYS = 45
WEATHER_DAYS = 3
SIMULATED_HOURS = 48

STACK_PORTS = (
    "TICKTIDE_HTTPS_PORT",
    "TICKTIDE_HTTP_PORT",
    "GATEWAY_PORT",
    "INGEST_CRYPTO_PORT",
    "INGEST_STOCKS_PORT",
    "INGEST_WEATHER_PORT",
    "WRITER_PORT",
    "AUTH_PORT",
    "WEB_PORT",
    "BACKTEST_WORKER_PORT",  # worker i listens on this + i
)


@dataclass
class BrowserStack:
    base_url: str  # https://localhost:<port> (no trailing slash)
    env: dict[str, str]
    run_dir: Path
    binance: FakeBinance
    nasdaq: FakeNasdaq
    meteo: FakeOpenMeteo
    up_seconds: float = 0.0
    up_output: str = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """An HTTP client of the API through nginx (self-signed certificate)."""
        return httpx.AsyncClient(
            base_url=self.base_url, verify=False, timeout=30.0, headers=headers or {}
        )


def stack_environment(
    service_env: dict[str, str],
    run_dir: Path,
    env_file: Path,
    binance: FakeBinance,
    nasdaq: FakeNasdaq,
    meteo: FakeOpenMeteo,
    **extra: str,
) -> dict[str, str]:
    """`make up`'s environment: the run's database, prefixes of the stack's own
    (under the run's, so the run's clean-up finds them), free ports, fakes."""
    ports = {name: free_port() for name in STACK_PORTS}
    suffix = uuid.uuid4().hex[:6]
    return {
        **os.environ,
        **service_env,
        **{name: str(port) for name, port in ports.items()},
        "TICKTIDE_BUS_PREFIX": f"{service_env['TICKTIDE_BUS_PREFIX']}-brw{suffix}",
        "TICKTIDE_REDIS_PREFIX": f"{service_env['TICKTIDE_REDIS_PREFIX']}brw{suffix}:",
        "INGEST_CRYPTO_URL": f"http://127.0.0.1:{ports['INGEST_CRYPTO_PORT']}",
        "WRITER_URL": f"http://127.0.0.1:{ports['WRITER_PORT']}",
        "INGEST_STOCKS_URL": f"http://127.0.0.1:{ports['INGEST_STOCKS_PORT']}",
        "INGEST_WEATHER_URL": f"http://127.0.0.1:{ports['INGEST_WEATHER_PORT']}",
        "AUTH_URL": f"http://127.0.0.1:{ports['AUTH_PORT']}",
        "WEB_URL": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "GATEWAY_URL": f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
        "TICKTIDE_RUN_DIR": str(run_dir),
        "TICKTIDE_ENV_FILE": str(env_file),
        "WORKERS": "2",
        "BINANCE_BASE_URL": binance.url,
        "NASDAQ_BASE_URL": nasdaq.url,
        "NASDAQ_NORDIC_BASE_URL": nasdaq.url,
        "OPEN_METEO_BASE_URL": meteo.url,
        "OPEN_METEO_ARCHIVE_URL": meteo.url,
        "OPENWEATHER_API_KEY": "",
        "WEATHER_LOCATIONS": ";".join(
            f"{name}:{lat}:{lon}" for name, (lat, lon) in LOCATIONS.items()
        ),
        # Current weather has no backfill: the scheduler fetches it (from the fake).
        "WEATHER_SCHEDULER_ENABLED": "1",
        "WEATHER_CURRENT_SECONDS": "3600",  # once at start: the pages and the API agree
        "WEATHER_HISTORY_SECONDS": "3600",
        "WEATHER_HISTORY_DAYS": str(WEATHER_DAYS),
        "REGISTRATION_MAX_PER_IP": "1000",
        # One parameter set per job: a grid of 50 is 50 jobs.
        "BACKTEST_JOB_COMBINATIONS": "1",
        "HEARTBEAT_SECONDS": "5",
        "HTTP_BACKOFF_SECONDS": "0.05",
        "BINANCE_BACKOFF_SECONDS": "0.05",
        "TICKTIDE_UP_TIMEOUT": "180",
        **extra,
    }


async def run_make(target: str, env: dict[str, str], cwd: Path, timeout: float = 420) -> str:
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        target,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        process.kill()
        raise
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"make {target} failed ({process.returncode}):\n{text}")
    return text


async def make_up(stack: BrowserStack, repo_root: Path) -> None:
    started = time.monotonic()
    stack.up_output = await run_make("up", stack.env, repo_root)
    stack.up_seconds = time.monotonic() - started


async def make_down(stack: BrowserStack, repo_root: Path) -> None:
    """`make down`, then the stack's queues and exchanges (its Redis keys go with
    the run's, by prefix, at the end of the session)."""
    try:
        await run_make("down", stack.env, repo_root, timeout=120)
    finally:
        topology = Topology(prefix=stack.env["TICKTIDE_BUS_PREFIX"])
        try:
            await asyncio.wait_for(delete_bus_names(stack.env["AMQP_URL"], topology), 30)
        except Exception as exc:  # the broker is gone: nothing to delete now
            print(f"could not delete the stack's queues ({exc!r})")


# ---- users ---------------------------------------------------------------------


async def register(stack: BrowserStack, username: str, password: str = PASSWORD) -> None:
    async with stack.client() as client:
        answer = await client.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert answer.status_code == 202, answer.text  # the same for a taken name (issue 10)


async def make_admin(pool: asyncpg.Pool, username: str) -> None:
    await pool.execute("UPDATE users SET user_level = 'admin' WHERE username = $1", username)


async def sign_in(
    context: BrowserContext, stack: BrowserStack, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Sign `context` in through the API (its cookie jar is the browser's)."""
    answer = await context.request.post(
        stack.url("/api/auth/login"), data={"username": username, "password": password}
    )
    assert answer.ok, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


# ---- market data -----------------------------------------------------------------


@dataclass
class MarketData:
    """What `load_market_data` stored, for the tests to compare pages with."""

    crypto_start: datetime
    crypto_end: datetime  # exclusive: the current hour
    stock_start: date
    stock_end: date
    weather_start: datetime
    weather_end: datetime
    simulated_end: datetime
    jobs: dict[str, str] = field(default_factory=dict)


async def _await_job(client: httpx.AsyncClient, answer: httpx.Response, what: str) -> str:
    assert answer.status_code == 202, f"{what}: {answer.status_code} {answer.text}"
    status_url = answer.json()["status_url"]

    async def done() -> bool:
        job = (await client.get(status_url)).json()
        assert job.get("status") != "failed", (what, job)
        return bool(job.get("status") == "done")

    await wait_until(done, timeout=120, interval=0.3, what=what)
    return str(status_url)


async def load_market_data(
    stack: BrowserStack, pool: asyncpg.Pool, admin: dict[str, str]
) -> MarketData:
    """Crypto, stocks and weather history through the fakes and the admin API, and a
    simulated pair in the database; returns when everything is stored (current
    weather too, which the ingester's scheduler fetches)."""
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    data = MarketData(
        crypto_start=hour - timedelta(days=CRYPTO_DAYS),
        crypto_end=hour,
        stock_start=now.date() - timedelta(days=STOCK_DAYS),
        stock_end=now.date(),
        weather_start=hour - timedelta(days=WEATHER_DAYS),
        weather_end=hour,
        simulated_end=hour - timedelta(hours=24),
    )
    stack.binance.add_series(REAL_SYMBOL, "1h", data.crypto_start, data.crypto_end)
    stack.binance.add_series(REAL_SYMBOL, "1d", data.crypto_start, data.crypto_end)
    stack.nasdaq.add_us_series("AAPL", data.stock_start, data.stock_end)
    stack.nasdaq.add_nordic_series("NOKIA", data.stock_start, data.stock_end)
    await forget_stock_rows(pool, *STOCKS)

    async with stack.client(admin) as client:
        requests: list[tuple[str, Callable[[], Awaitable[httpx.Response]]]] = []
        for interval in ("1h", "1d"):
            body = {
                "symbol": REAL_SYMBOL,
                "interval": interval,
                "start": data.crypto_start.isoformat(),
                "end": data.crypto_end.isoformat(),
            }
            requests.append(
                (
                    f"crypto {interval}",
                    lambda b=body: client.post("/api/admin/ingest/crypto/backfill", json=b),  # type: ignore[misc]
                )
            )
        for symbol in STOCKS:
            body = {
                "symbol": symbol,
                "start": data.stock_start.isoformat(),
                "end": data.stock_end.isoformat(),
            }
            requests.append(
                (
                    f"stocks {symbol}",
                    lambda b=body: client.post("/api/admin/ingest/stocks/backfill", json=b),  # type: ignore[misc]
                )
            )
        for location in LOCATIONS:
            body = {
                "location": location,
                "start": data.weather_start.isoformat(),
                "end": data.weather_end.isoformat(),
            }
            requests.append(
                (
                    f"weather {location}",
                    lambda b=body: client.post("/api/admin/ingest/weather/backfill", json=b),  # type: ignore[misc]
                )
            )

        async def one(what: str, send: Callable[[], Awaitable[httpx.Response]]) -> None:
            data.jobs[what] = await _await_job(client, await send(), f"the backfill of {what}")

        await asyncio.gather(*(one(what, send) for what, send in requests))

        for location in LOCATIONS:

            async def has_current(name: str = location) -> bool:
                answer = await client.get("/api/weather/current", params={"location": name})
                return answer.status_code == 200

            await wait_until(has_current, timeout=60, what=f"the current weather of {location}")

    await _store_simulated_pair(pool, data.simulated_end)
    return data


async def _store_simulated_pair(pool: asyncpg.Pool, end: datetime) -> None:
    """48 simulated 1h candles of a pair of our own, ending a day before the real
    ones (so the newest crypto rows, and their freshness, are not simulated)."""
    async with pool.acquire() as conn, conn.transaction():
        crypto_id = await conn.fetchval(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
            " VALUES ('TTBSIM', 'Browser simulated', $1)"
            " ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true RETURNING id",
            SIMULATED_SYMBOL,
        )
        rows = []
        price = 250.0
        for i in range(SIMULATED_HOURS):
            t = end - timedelta(hours=SIMULATED_HOURS - i)
            close = price * (1 + (0.01 if i % 3 else -0.012))
            rows.append(
                (
                    crypto_id,
                    t,
                    "1h",
                    price,
                    max(price, close) * 1.004,
                    min(price, close) * 0.996,
                    close,
                    1000.0 + i,
                    "simulated",
                )
            )
            price = close
        await conn.executemany(
            "INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price,"
            " high_price, low_price, close_price, volume, source)"
            " VALUES ($1, $2, $3, round($4::numeric, 2), round($5::numeric, 2),"
            " round($6::numeric, 2), round($7::numeric, 2), $8, $9)"
            " ON CONFLICT DO NOTHING",
            rows,
        )
        # Stored beside the writer: its pieces are rendered again, as the writer has them.
        await conn.execute("DELETE FROM crypto_price_pieces WHERE crypto_id = $1", crypto_id)


async def forget_market_data(pool: asyncpg.Pool) -> None:
    """What this suite stored that later tests of the run could trip over."""
    symbols = [REAL_SYMBOL, SIMULATED_SYMBOL]
    async with pool.acquire() as conn, conn.transaction():
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM cryptocurrencies WHERE binance_symbol = ANY($1::text[])", symbols
            )
        ]
        await conn.execute("DELETE FROM crypto_prices WHERE crypto_id = ANY($1::int[])", ids)
        await conn.execute("DELETE FROM crypto_price_pieces WHERE crypto_id = ANY($1::int[])", ids)
        await conn.execute(
            "UPDATE cryptocurrencies SET is_active = false WHERE id = ANY($1::int[])", ids
        )
    await forget_stock_rows(pool, *STOCKS)
    await forget_weather_rows(pool, *LOCATIONS)


# ---- the API as a signed-in user ---------------------------------------------------


async def api_session(
    stack: BrowserStack, username: str, password: str = PASSWORD
) -> httpx.AsyncClient:
    """An HTTP client signed in as `username` (session cookie and CSRF header)."""
    client = stack.client()
    answer = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def batch_body(
    market: MarketData, grid: dict[str, Any], strategy: str = "sma_cross"
) -> dict[str, Any]:
    """A batch over this suite's pair: the stored 1h candles but the first days."""
    return {
        "symbols": [BACKTEST_SYMBOL],
        "intervals": ["1h"],
        "start": (market.crypto_start + timedelta(days=1)).date().isoformat(),
        "end": market.crypto_end.date().isoformat(),
        "strategy": strategy,
        "grid": grid,
        "fee": 0.001,
        "slippage_bps": 5,
        "initial_cash": 10000,
        "rank_by": "sharpe",
    }


async def run_batch(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Submit a batch and wait until it is over; returns its status with results."""
    answer = await client.post("/api/crypto/backtest/batch", json=body)
    assert answer.status_code == 202, answer.text
    batch_id = answer.json()["batch_id"]
    found: dict[str, Any] = {}

    async def over() -> bool:
        status = await client.get(f"/api/crypto/backtest/batch/{batch_id}")
        assert status.status_code == 200, status.text
        found.update(status.json())
        return found["status"] not in ("queued", "running")

    await wait_until(over, timeout=120, interval=0.3, what=f"batch {batch_id}")
    return found
