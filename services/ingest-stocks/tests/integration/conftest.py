"""Fixtures for ingest-stocks' integration tests: a FakeNasdaq serving both
providers, an isolated bus prefix per test, and a minimal stand-in for the
writer (consumes `StockPricesV1`, stores batch + bars in one transaction, then
publishes `StockPricesStoredV1`, as the writer service does)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import get_job_progress, request_stocks_backfill
from ticktide_common.messages import StockPricesStoredV1, StockPricesV1, StocksBackfillRequestedV1
from ticktide_common.settings import Settings
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import (
    INGEST_STOCKS_BACKFILLS,
    INGEST_STOCKS_STORED,
    WRITER_STOCKS,
)
from ticktide_ingest_stocks.client import NasdaqClient, NordicClient
from ticktide_ingest_stocks.service import StocksIngester
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq

# Every range the tests load has closed long before this.
NOW = datetime(2025, 1, 15, 12, tzinfo=UTC).timestamp()

_UPSERT = """
INSERT INTO stock_prices AS t (stock_id, datetime, open_price, high_price, low_price, close_price,
                               volume, average_price, turnover, source)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (stock_id, datetime) DO UPDATE
    SET open_price = excluded.open_price, high_price = excluded.high_price,
        low_price = excluded.low_price, close_price = excluded.close_price,
        volume = excluded.volume, average_price = excluded.average_price,
        turnover = excluded.turnover, source = excluded.source, updated_at = now()
    WHERE NOT (excluded.source = 'simulated' AND t.source <> 'simulated')
"""


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.fixture
def fake_nasdaq() -> Iterator[FakeNasdaq]:
    with FakeNasdaq() as server:
        yield server


@pytest.fixture
def us_symbol() -> str:
    return f"T{uuid.uuid4().hex[:7].upper()}"


@pytest.fixture
def fi_symbol() -> str:
    """Ours ('NABC123-FI'); the provider spells it 'NABC123 FI'."""
    return f"N{uuid.uuid4().hex[:6].upper()}-FI"


@pytest.fixture
async def isolated_bus(settings: Settings, fake_nasdaq: FakeNasdaq) -> AsyncIterator[IsolatedBus]:
    async with open_isolated_bus(
        settings,
        "ingest-stocks-tests",
        nasdaq_base_url=fake_nasdaq.url,
        nasdaq_nordic_base_url=fake_nasdaq.url,
        http_backoff_seconds=0.01,
        http_max_attempts=2,
        http_timeout_seconds=5.0,
        ticktide_simulated_fallback=False,
        ingest_fetch_max_attempts=2,
    ) as isolated:
        yield isolated


async def store_batch(pool: asyncpg.Pool, batch: StockPricesV1) -> int:
    """What the writer does with one batch; returns rows written (0: duplicate)."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            """INSERT INTO ingest_batches (batch_id, job_id, candles) VALUES ($1, $2, $3)
               ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id""",
            batch.batch_id,
            batch.job_id,
            len(batch.bars),
        )
        if fresh is None:
            return 0
        stock_id = await conn.fetchval("SELECT id FROM stocks WHERE symbol = $1", batch.symbol)
        assert stock_id is not None, f"no stocks row for {batch.symbol}"
        await conn.executemany(
            _UPSERT,
            [
                (
                    stock_id,
                    datetime.combine(b.date, time(0), tzinfo=UTC),
                    _dec(b.o),
                    Decimal(b.h),
                    Decimal(b.l),
                    Decimal(b.c),
                    Decimal(b.v),
                    _dec(b.average),
                    _dec(b.turnover),
                    batch.source,
                )
                for b in batch.bars
            ],
        )
        return len(batch.bars)


@pytest.fixture
async def writer_stand_in(isolated_bus: IsolatedBus, db_pool: asyncpg.Pool) -> list[StockPricesV1]:
    seen: list[StockPricesV1] = []

    async def handle(batch: StockPricesV1) -> None:
        rows = await store_batch(db_pool, batch)
        seen.append(batch)
        days = [b.date for b in batch.bars]
        await isolated_bus.bus.publish(
            StockPricesStoredV1(
                batch_id=batch.batch_id,
                job_id=batch.job_id,
                symbol=batch.symbol,
                exchange=batch.exchange,
                source=batch.source,
                first_date=min(days, default=None),
                last_date=max(days, default=None),
                bars=len(batch.bars),
                rows_changed=rows,
            )
        )

    await isolated_bus.bus.consume(WRITER_STOCKS, StockPricesV1, handle)
    return seen


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: Settings
    ingester: StocksIngester
    bus: Bus
    batches: list[StockPricesV1]
    http: list[httpx.AsyncClient]

    async def backfill(self, symbol: str, exchange: str, start: date, end: date) -> uuid.UUID:
        return await request_stocks_backfill(
            self.pool,
            self.bus,
            symbol=symbol,
            exchange=exchange,  # type: ignore[arg-type]
            start=start,
            end=end,
            requested_by="tests",
        )

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> str:
        async def done() -> bool:
            progress = await get_job_progress(self.pool, job_id)
            return progress is not None and progress.finished

        await wait_until(done, timeout=timeout, what=f"job {job_id} to finish")
        progress = await get_job_progress(self.pool, job_id)
        assert progress is not None
        return progress.status

    def published(self, job_id: uuid.UUID) -> list[StockPricesV1]:
        return [b for b in self.batches if b.job_id == job_id]


@pytest.fixture
async def make_pipeline(
    isolated_bus: IsolatedBus, db_pool: asyncpg.Pool, writer_stand_in: list[StockPricesV1]
) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    built: list[Pipeline] = []

    async def make(**overrides: object) -> Pipeline:
        settings = isolated_bus.settings.model_copy(update=overrides)
        us = httpx.AsyncClient(base_url=settings.nasdaq_base_url, timeout=5)
        fi = httpx.AsyncClient(base_url=settings.nasdaq_nordic_base_url, timeout=5)
        ingester = StocksIngester(
            pool=db_pool,
            bus=isolated_bus.bus,
            nasdaq=NasdaqClient.from_settings(settings, us),
            nordic=NordicClient.from_settings(settings, fi),
            settings=settings,
            clock=lambda: NOW,
        )
        await isolated_bus.bus.consume(
            INGEST_STOCKS_BACKFILLS, StocksBackfillRequestedV1, ingester.handle_backfill
        )
        await isolated_bus.bus.consume(INGEST_STOCKS_STORED, StockPricesStoredV1, ingester.on_stored)
        pipeline = Pipeline(db_pool, settings, ingester, isolated_bus.bus, writer_stand_in, [us, fi])
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        for http in pipeline.http:
            await http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
