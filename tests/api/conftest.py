"""Fixtures of the API fuzz tests: every service running on fake providers (so
`/api/health` is 200 and every route has its backend), data the operations can
reach real code paths with (BTCUSDT candles, AAPL bars, Helsinki weather, a
finished batch, a backfill job), the two fuzzing identities, and the run's
figures printed at the end of the session."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path

import asyncpg
import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from tests.api.findings import RunFigures, stale_known
from tests.stack import CryptoStack, request_backfill, stack_env, start_stack
from ticktide_common.testing.processes import wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo

SESSION_COOKIE = "__Host-ticktide_session"
SEED_START = datetime(2024, 1, 1, tzinfo=UTC)
SEED_END = datetime(2024, 1, 4, tzinfo=UTC)
LOCATION = "Helsinki"
INTERVALS = ("1h", "4h", "1d")

FIGURES_KEY = pytest.StashKey[list[RunFigures]]()


@dataclass(frozen=True)
class Identity:
    """Who a fuzz run signs in as: the headers it sends, and the ids of its own
    account and token, which the run must not delete, disable, demote or revoke."""

    role: str
    headers: dict[str, str]
    user_id: int
    token_id: int | None = None


@dataclass(frozen=True)
class Seeds:
    """Ids of what was stored before the runs, offered to the fuzzer as values."""

    batch_id: str
    job_id: str


@pytest.fixture(scope="package")
def providers() -> Iterator[tuple[FakeBinance, FakeNasdaq, FakeOpenMeteo]]:
    with FakeBinance() as binance, FakeNasdaq() as nasdaq, FakeOpenMeteo() as meteo:
        for interval in INTERVALS:
            binance.add_series("BTCUSDT", interval, SEED_START, SEED_END)
        yield binance, nasdaq, meteo


@pytest.fixture(scope="package")
async def api_stack(
    providers: tuple[FakeBinance, FakeNasdaq, FakeOpenMeteo],
    service_env: dict[str, str],
    log_dir: Path,
) -> AsyncIterator[CryptoStack]:
    binance, nasdaq, meteo = providers
    env = stack_env(
        service_env,
        binance.url,
        NASDAQ_BASE_URL=nasdaq.url,
        NASDAQ_NORDIC_BASE_URL=nasdaq.url,
        OPEN_METEO_BASE_URL=meteo.url,
        OPEN_METEO_ARCHIVE_URL=meteo.url,
        WEATHER_LOCATIONS=f"{LOCATION}:60.1699:24.9384",
        # Streams and awaited runs end soon, so that a fuzzed one costs seconds, not minutes.
        BACKTEST_STREAM_LIFETIME_SECONDS="3",
        BACKTEST_RUN_TIMEOUT_SECONDS="5",
        # Fuzzed backfills stay small work for the ingesters.
        MAX_BACKFILL_CANDLES="2000",
    )
    stack = await start_stack(
        binance, env, log_dir, backtest_workers=1, ingesters=("stocks", "weather", "web")
    )
    try:
        yield stack
    finally:
        await stack.close()


async def _seed_market(pool: asyncpg.Pool) -> None:
    """AAPL daily bars and Helsinki weather, stored as the writer would."""
    stock_id = await pool.fetchval(
        """INSERT INTO stocks (symbol, name, exchange, currency, provider_symbol, is_active)
           VALUES ('AAPL', 'Apple Inc.', 'NASDAQ', 'USD', 'AAPL', true)
           ON CONFLICT (symbol) DO UPDATE SET is_active = true RETURNING id"""
    )
    days = [SEED_START + timedelta(days=i) for i in range(10)]
    await pool.executemany(
        """INSERT INTO stock_prices (stock_id, datetime, open_price, high_price, low_price,
                                     close_price, volume, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'nasdaq') ON CONFLICT DO NOTHING""",
        [
            (stock_id, day, *(Decimal(v) for v in ("185.1", "186.4", "183.9", "185.6", "1000")))
            for day in days
        ],
    )
    await pool.execute(
        "INSERT INTO weather_locations (name, latitude, longitude) VALUES ($1, 60.17, 24.94)"
        " ON CONFLICT DO NOTHING",
        LOCATION,
    )
    hours = [SEED_START + timedelta(hours=i) for i in range(48)]
    for table in ("weather_historic", "weather_current"):
        await pool.executemany(
            f"""INSERT INTO {table} (location, datetime, temperature, humidity, pressure,
                                     wind_speed, description, source, weather_data)
                VALUES ($1, $2, -3.5, 80, 1012, 4.2, 'snow', 'open-meteo', '{{}}'::jsonb)""",
            [(LOCATION, hour) for hour in (hours if table == "weather_historic" else hours[-1:])],
        )


async def _finished_batch(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(
        "/api/crypto/backtest/batch",
        headers=headers,
        json={
            "strategy": "sma_cross",
            "symbols": ["BTCUSDT"],
            "intervals": ["1h"],
            "grid": {"fast": [3, 5], "slow": [10]},
            "start": SEED_START.isoformat(),
            "end": SEED_END.isoformat(),
        },
    )
    assert response.status_code == 202, response.text
    batch_id = str(response.json()["batch_id"])

    async def finished() -> bool:
        url = f"/api/crypto/backtest/batch/{batch_id}"
        return (await client.get(url, headers=headers)).json().get("finished_at") is not None

    await wait_until(finished, timeout=90, what="the seeded batch to finish")
    return batch_id


async def _signed_in_user(client: httpx.AsyncClient, pool: asyncpg.Pool) -> Identity:
    """A user with a real password (made in the database) signed in through the API:
    a cookie session, and its CSRF token for writes."""
    username = f"fuzz-user-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(24)
    password_hash = PasswordHash((Argon2Hasher(),)).hash(password)
    user_id = await pool.fetchval(
        "INSERT INTO users (username, email, password_hash, user_level)"
        " VALUES ($1, $2, $3, 'user') RETURNING id",
        username,
        f"{username}@example.test",
        password_hash,
    )
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    headers = {
        "Cookie": f"{SESSION_COOKIE}={cookies[SESSION_COOKIE].value}",
        "X-CSRF-Token": response.json()["csrf_token"],
    }
    return Identity("user", headers, int(user_id))


async def _admin_with_token(pool: asyncpg.Pool) -> Identity:
    user_id, _ = await create_test_user(pool, role="admin")
    token = await create_test_token(pool, user_id, name="fuzzing")
    token_id = await pool.fetchval(
        "SELECT id FROM api_tokens WHERE user_id = $1 AND name = 'fuzzing'", user_id
    )
    return Identity("admin", bearer(token), user_id, int(token_id))


@dataclass(frozen=True)
class FuzzTarget:
    """The stack, the two identities and the seeded ids."""

    stack: CryptoStack
    user: Identity
    admin: Identity
    seeds: Seeds


@pytest.fixture(scope="package")
async def fuzz_target(api_stack: CryptoStack, db_pool: asyncpg.Pool) -> FuzzTarget:
    admin = await _admin_with_token(db_pool)
    async with httpx.AsyncClient(base_url=api_stack.api, timeout=30) as client:
        user = await _signed_in_user(client, db_pool)
        await _seed_market(db_pool)
        async with httpx.AsyncClient(
            base_url=api_stack.api, headers=admin.headers, timeout=30
        ) as as_admin:
            job_urls = [
                await request_backfill(as_admin, "BTCUSDT", SEED_START, SEED_END, interval)
                for interval in INTERVALS
            ]

            async def backfilled() -> bool:
                jobs = [(await as_admin.get(url)).json() for url in job_urls]
                assert all(job["status"] != "failed" for job in jobs), jobs
                return all(job["status"] == "done" for job in jobs)

            await wait_until(backfilled, timeout=90, what="the seeded BTCUSDT backfills")
        job_id = job_urls[0].rsplit("/", 1)[1]
        batch_id = await _finished_batch(client, user.headers)
    return FuzzTarget(api_stack, user, admin, Seeds(batch_id=batch_id, job_id=job_id))


@pytest.fixture(scope="session")
def run_figures(request: pytest.FixtureRequest) -> list[RunFigures]:
    """Where each run leaves its figures, printed by `pytest_terminal_summary`."""
    return request.config.stash.setdefault(FIGURES_KEY, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(FIGURES_KEY, [])
    if not figures:
        return
    terminalreporter.section("schemathesis")
    for run in figures:
        terminalreporter.write_line(run.summary())
    if len(figures) > 1:
        for known in stale_known(figures):
            terminalreporter.write_line(
                f"known finding not seen by any run (fixed? remove it from KNOWN_FINDINGS): "
                f"{known.owner}: {known.code} {known.operation} /{known.body}/"
            )
