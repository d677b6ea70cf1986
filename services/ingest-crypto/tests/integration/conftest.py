"""Fixtures for ingest-crypto's integration tests: a fake Binance, an isolated
bus prefix per test, and the real writer's consumers on it (in-process, its
own SQL: stores batch + candles, then publishes `CandlesStoredV1`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import request_backfill
from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CryptoBackfillRequestedV1
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.ingest import finished_job
from ticktide_common.topology import (
    INGEST_CRYPTO_BACKFILLS,
    INGEST_CRYPTO_STORED,
)
from ticktide_ingest_crypto.client import BinanceClient
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.settings import IngestCryptoSettings
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_writer.testing import RunningWriter
from ticktide_writer.testing import writer as writer  # the fixture


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def symbol() -> str:
    """A symbol no other test uses (the database is shared by the session)."""
    return f"T{uuid.uuid4().hex[:8].upper()}USDT"


# Quick retries, no simulated fallback, a fast finalize sweep: what every test here runs with.
TEST_OVERRIDES: dict[str, object] = {
    "binance_backoff_seconds": 0.01,
    "binance_max_attempts": 2,
    "ticktide_simulated_fallback": False,
    "crypto_finalize_sweep_seconds": 0.5,
}


@pytest.fixture
async def isolated_bus(
    settings: IngestCryptoSettings, fake_binance: FakeBinance
) -> AsyncIterator[IsolatedBus]:
    """A bus on a prefix of its own, so consumers of other tests never compete."""
    overrides = {**TEST_OVERRIDES, "binance_base_url": fake_binance.url}
    async with open_isolated_bus(settings, "ingest-crypto-tests", **overrides) as isolated:
        yield isolated


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: IngestCryptoSettings
    ingester: CryptoIngester
    bus: Bus
    batches: list[CandleBatchV1]

    async def backfill(
        self, symbol: str, start: datetime, end: datetime, interval: str = "1h"
    ) -> uuid.UUID:
        return await request_backfill(
            self.pool,
            self.bus,
            CryptoBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol=symbol,
                interval=interval,
                start=start,
                end=end,
                requested_by="tests",
            ),
        )

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> str:
        return (await finished_job(self.pool, job_id, timeout=timeout)).status


async def _build(
    isolated_bus: IsolatedBus,
    db_pool: asyncpg.Pool,
    writer: RunningWriter,
    **overrides: object,
) -> Pipeline:
    settings = isolated_bus.settings.model_copy(update=overrides)
    http = httpx.AsyncClient(base_url=settings.binance_base_url, timeout=5)
    client = BinanceClient.from_settings(settings, http)
    ingester = CryptoIngester(pool=db_pool, bus=isolated_bus.bus, client=client, settings=settings)
    await isolated_bus.bus.consume(
        INGEST_CRYPTO_BACKFILLS, CryptoBackfillRequestedV1, ingester.handle_backfill
    )
    await isolated_bus.bus.consume(INGEST_CRYPTO_STORED, CandlesStoredV1, ingester.on_stored)
    return Pipeline(db_pool, settings, ingester, isolated_bus.bus, writer.received(CandleBatchV1))


@pytest.fixture
async def make_pipeline(
    isolated_bus: IsolatedBus, db_pool: asyncpg.Pool, writer: RunningWriter
) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    """Build the ingester consuming on the isolated bus, with setting overrides."""
    built: list[Pipeline] = []

    async def make(**overrides: object) -> Pipeline:
        pipeline = await _build(isolated_bus, db_pool, writer, **overrides)
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        await pipeline.ingester.client.http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
