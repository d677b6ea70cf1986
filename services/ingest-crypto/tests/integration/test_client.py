"""The Binance client against the fake Binance HTTP server: paging, 429 with
Retry-After, 5xx retries, invalid symbol, unreachable host, weight pauses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from ticktide_common.testing.processes import free_port
from ticktide_ingest_crypto.client import (
    BinanceClient,
    BinanceRejectedError,
    BinanceServerError,
    BinanceUnavailableError,
)
from ticktide_ingest_crypto.gaps import datetime_to_ms
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

START = datetime(2024, 1, 1, tzinfo=UTC)
START_MS = datetime_to_ms(START)
HOUR = 3_600_000


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        server.add_series(
            "PAGEUSDT", "1h", START_MS, START_MS + 2500 * HOUR, holes=[START_MS + 10 * HOUR]
        )
        yield server


@pytest.fixture
async def client(fake: FakeBinance) -> AsyncIterator[BinanceClient]:
    fake.clear_requests()
    fake.set_used_weight(None)
    http = httpx.AsyncClient(base_url=fake.url, timeout=5)
    yield BinanceClient(http, max_attempts=3, backoff_seconds=0.01)
    await http.aclose()


async def _collect(client: BinanceClient, symbol: str, start: int, end: int) -> list:
    return [page async for page in client.iter_klines(symbol, "1h", start, end)]


async def test_pages_of_1000_by_start_time(fake: FakeBinance, client: BinanceClient) -> None:
    pages = await _collect(client, "PAGEUSDT", START_MS, START_MS + 2500 * HOUR)
    assert [len(page) for page in pages] == [1000, 1000, 499]
    candles = [c for page in pages for c in page]
    assert candles == fake.served_candles("PAGEUSDT", "1h")
    starts = [int(r.params["startTime"]) for r in fake.kline_requests()]
    # The hole shifts the second page by one bar: it starts after the last bar received.
    assert starts == [START_MS, START_MS + 1001 * HOUR, START_MS + 2001 * HOUR]
    assert {r.params["endTime"] for r in fake.kline_requests()} == {str(START_MS + 2500 * HOUR - 1)}
    assert {r.params["limit"] for r in fake.kline_requests()} == {"1000"}


async def test_end_is_exclusive(fake: FakeBinance, client: BinanceClient) -> None:
    pages = await _collect(client, "PAGEUSDT", START_MS + 5 * HOUR, START_MS + 12 * HOUR)
    assert [datetime_to_ms(c.t) for c in pages[0]] == [
        START_MS + h * HOUR for h in (5, 6, 7, 8, 9, 11)
    ]
    assert len(fake.kline_requests()) == 1


async def test_429_retry_after_is_honoured(fake: FakeBinance, client: BinanceClient) -> None:
    fake.rate_limit_next(retry_after=1)
    page = await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS + 3 * HOUR)
    assert len(page) == 4
    first, second = fake.kline_requests()
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


async def test_418_is_honoured_too(fake: FakeBinance, client: BinanceClient) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    client.sleep = record
    client.clock = lambda: 1_000.0
    fake.rate_limit_next(retry_after=7, status=418)
    await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS)
    assert slept == [7.0]
    assert [r.status for r in fake.kline_requests()] == [418, 200]


async def test_retry_after_holds_back_every_request_of_the_client(
    fake: FakeBinance, client: BinanceClient
) -> None:
    """A 429 is about the IP: a request started after it waits as well."""
    fake.rate_limit_next(retry_after=1)
    first = asyncio.create_task(client.klines_page("PAGEUSDT", "1h", START_MS, START_MS))
    while not fake.kline_requests():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS)
    await first
    log = fake.kline_requests()
    assert [r.status for r in log] == [429, 200, 200]
    assert min(r.at for r in log[1:]) - log[0].at >= 1.0


async def test_5xx_is_retried(fake: FakeBinance, client: BinanceClient) -> None:
    fake.fail_next(503, times=2)
    page = await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS + HOUR)
    assert len(page) == 2
    assert [r.status for r in fake.kline_requests()] == [503, 503, 200]


async def test_persistent_5xx_gives_up(fake: FakeBinance, client: BinanceClient) -> None:
    fake.fail_next(500, times=5)
    with pytest.raises(BinanceServerError, match="answered 500 3 times"):
        await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS + HOUR)
    assert len(fake.kline_requests()) == 3
    fake.clear_failures()


async def test_invalid_symbol_is_permanent(fake: FakeBinance, client: BinanceClient) -> None:
    with pytest.raises(BinanceRejectedError) as caught:
        await client.klines_page("NOPEUSDT", "1h", START_MS, START_MS + HOUR)
    assert (caught.value.status, caught.value.code) == (400, -1121)
    assert caught.value.binance_message == "Invalid symbol."
    assert len(fake.kline_requests()) == 1


async def test_unreachable_host() -> None:
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    client = BinanceClient(http, max_attempts=2, backoff_seconds=0.01)
    try:
        with pytest.raises(BinanceUnavailableError, match="unreachable"):
            await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS + HOUR)
    finally:
        await http.aclose()


async def test_weight_header_pauses_until_next_minute(
    fake: FakeBinance, client: BinanceClient
) -> None:
    now = [1_700_000_040.0 + 20]  # 20 s into a UTC minute
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    client.clock = lambda: now[0]
    client.sleep = record
    fake.set_used_weight(4799)  # limit 6000 × headroom 0.8 = 4800; a request weighs 2
    await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS)
    assert slept == [] and client.budget.used == 4799
    fake.set_used_weight(100)
    await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS)
    assert slept == [pytest.approx(40.0)] and client.budget.used == 100
    await client.klines_page("PAGEUSDT", "1h", START_MS, START_MS)
    assert len(slept) == 1
    assert len(fake.kline_requests()) == 3
