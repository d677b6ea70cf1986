"""Fixtures for ingest-stocks' integration tests: a FakeNasdaq serving both
providers, an isolated bus prefix per test, and the real writer's consumers on it
(in-process, its own SQL: stores batch + bars, then publishes
`StockPricesStoredV1`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import request_backfill
from ticktide_common.messages import StockPricesStoredV1, StockPricesV1, StocksBackfillRequestedV1
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.ingest import finished_job
from ticktide_common.topology import (
    INGEST_STOCKS_BACKFILLS,
    INGEST_STOCKS_STORED,
)
from ticktide_ingest_stocks.client import NasdaqClient, NordicClient
from ticktide_ingest_stocks.service import StocksIngester
from ticktide_ingest_stocks.settings import IngestStocksSettings
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_writer.testing import RunningWriter
from ticktide_writer.testing import writer as writer  # the fixture

# Every range the tests load has closed long before this.
NOW = datetime(2025, 1, 15, 12, tzinfo=UTC).timestamp()


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
async def isolated_bus(
    settings: IngestStocksSettings, fake_nasdaq: FakeNasdaq
) -> AsyncIterator[IsolatedBus]:
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


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: IngestStocksSettings
    ingester: StocksIngester
    bus: Bus
    batches: list[StockPricesV1]
    http: list[httpx.AsyncClient]

    async def backfill(self, symbol: str, exchange: str, start: date, end: date) -> uuid.UUID:
        return await request_backfill(
            self.pool,
            self.bus,
            StocksBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol=symbol,
                exchange=exchange,  # type: ignore[arg-type]
                start=start,
                end=end,
                requested_by="tests",
            ),
        )

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> str:
        return (await finished_job(self.pool, job_id, timeout=timeout)).status

    def published(self, job_id: uuid.UUID) -> list[StockPricesV1]:
        return [b for b in self.batches if b.job_id == job_id]


@pytest.fixture
async def make_pipeline(
    isolated_bus: IsolatedBus, db_pool: asyncpg.Pool, writer: RunningWriter
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
        await isolated_bus.bus.consume(
            INGEST_STOCKS_STORED, StockPricesStoredV1, ingester.on_stored
        )
        pipeline = Pipeline(
            db_pool, settings, ingester, isolated_bus.bus, writer.received(StockPricesV1), [us, fi]
        )
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        for http in pipeline.http:
            await http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
