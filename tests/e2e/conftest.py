"""Fixtures of the end-to-end tests: fake providers and the stack built on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.testing.market import forget_weather_rows
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
async def crypto_stack(
    fake_binance: FakeBinance, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[CryptoStack]:
    env = stack_env(
        service_env,
        fake_binance.url,
        CRYPTO_GAP_RETRY_SECONDS="1",
        CRYPTO_GAP_MAX_REFILL_ATTEMPTS="1000",
    )
    stack = await start_stack(fake_binance, env, log_dir)
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def crypto_stack_with_workers(
    fake_binance: FakeBinance, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[CryptoStack]:
    """The crypto stack and two backtest workers."""
    stack = await start_stack(
        fake_binance, stack_env(service_env, fake_binance.url), log_dir, backtest_workers=2
    )
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
def fake_nasdaq() -> Iterator[FakeNasdaq]:
    with FakeNasdaq() as server:
        yield server


@pytest.fixture
async def stocks_stack(
    fake_binance: FakeBinance,
    fake_nasdaq: FakeNasdaq,
    service_env: dict[str, str],
    log_dir: Path,
) -> AsyncIterator[CryptoStack]:
    """The stack with ingest-stocks, both stock providers answered by one fake."""
    env = stack_env(
        service_env,
        fake_binance.url,
        NASDAQ_BASE_URL=fake_nasdaq.url,
        NASDAQ_NORDIC_BASE_URL=fake_nasdaq.url,
    )
    stack = await start_stack(fake_binance, env, log_dir, ingesters=("stocks",))
    try:
        yield stack
    finally:
        await stack.close()


HELSINKI = "Helsinki:60.1699:24.9384"


@pytest.fixture
def fake_open_meteo() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as server:
        yield server


@pytest.fixture
async def weather_stack(
    fake_binance: FakeBinance,
    fake_open_meteo: FakeOpenMeteo,
    service_env: dict[str, str],
    log_dir: Path,
    db_pool: asyncpg.Pool,
) -> AsyncIterator[CryptoStack]:
    """The stack with ingest-weather on Open-Meteo (fake), no schedule (the test
    injects faults into the next requests, which a scheduled fetch could take)."""
    env = stack_env(
        service_env,
        fake_binance.url,
        OPEN_METEO_BASE_URL=fake_open_meteo.url,
        OPEN_METEO_ARCHIVE_URL=fake_open_meteo.url,
        WEATHER_LOCATIONS=HELSINKI,
    )
    await forget_weather_rows(db_pool, "Helsinki")  # before the ingester stores any
    stack = await start_stack(fake_binance, env, log_dir, ingesters=("weather",))
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def openweather_stack(
    fake_binance: FakeBinance, service_env: dict[str, str], log_dir: Path, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[CryptoStack, FakeOpenWeather]]:
    """The stack with ingest-weather on OpenWeather (fake), chosen by the API key;
    its schedule fetches current weather every second and the last day's history."""
    with FakeOpenWeather(api_key="e2e-key") as openweather:
        env = stack_env(
            service_env,
            fake_binance.url,
            OPENWEATHER_BASE_URL=openweather.url,
            OPENWEATHER_API_KEY="e2e-key",
            WEATHER_LOCATIONS=HELSINKI,
            WEATHER_SCHEDULER_ENABLED="1",
            WEATHER_CURRENT_SECONDS="1",
            WEATHER_HISTORY_SECONDS="3600",
            WEATHER_HISTORY_DAYS="1",
        )
        await forget_weather_rows(db_pool, "Helsinki")  # before the ingester stores any
        stack = await start_stack(fake_binance, env, log_dir, ingesters=("weather",))
        try:
            yield stack, openweather
        finally:
            await stack.close()
