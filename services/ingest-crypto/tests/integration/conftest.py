"""Fixtures for ingest-crypto's integration tests: a fake Binance, an isolated
bus prefix per test, and a minimal stand-in for the writer (consumes the
published `CandleBatchV1`, stores batch + candles in one transaction, then
publishes `CandlesStoredV1`, as the writer service does)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import get_job_progress, request_crypto_backfill
from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CryptoBackfillRequestedV1
from ticktide_common.settings import Settings
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import (
    INGEST_CRYPTO_BACKFILLS,
    INGEST_CRYPTO_STORED,
    WRITER_CANDLES,
)
from ticktide_ingest_crypto.client import BinanceClient
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

_UPSERT = """
INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                           low_price, close_price, volume, source)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (crypto_id, interval_type, datetime) DO UPDATE
    SET open_price = excluded.open_price, high_price = excluded.high_price,
        low_price = excluded.low_price, close_price = excluded.close_price,
        volume = excluded.volume, source = excluded.source, updated_at = now()
    WHERE NOT (excluded.source = 'simulated' AND crypto_prices.source <> 'simulated')
"""


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def symbol() -> str:
    """A symbol no other test uses (the database is shared by the session)."""
    return f"T{uuid.uuid4().hex[:8].upper()}USDT"


@pytest.fixture
async def isolated_bus(settings: Settings, fake_binance: FakeBinance) -> AsyncIterator[IsolatedBus]:
    """A bus on a prefix of its own, so consumers of other tests never compete."""
    async with open_isolated_bus(
        settings,
        "ingest-crypto-tests",
        binance_base_url=fake_binance.url,
        binance_backoff_seconds=0.01,
        binance_max_attempts=2,
        ticktide_simulated_fallback=False,
        crypto_finalize_sweep_seconds=0.5,
    ) as isolated:
        yield isolated


async def store_batch(pool: asyncpg.Pool, batch: CandleBatchV1) -> int:
    """What the writer does with one batch; returns rows written (0: duplicate)."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            """INSERT INTO ingest_batches (batch_id, job_id, candles) VALUES ($1, $2, $3)
               ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id""",
            batch.batch_id,
            batch.job_id,
            len(batch.candles),
        )
        if fresh is None:
            return 0
        crypto_id = await conn.fetchval(
            """INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $1)
               ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true RETURNING id""",
            batch.symbol,
        )
        await conn.executemany(
            _UPSERT,
            [
                (
                    crypto_id,
                    c.t,
                    batch.interval,
                    Decimal(c.o),
                    Decimal(c.h),
                    Decimal(c.l),
                    Decimal(c.c),
                    Decimal(c.v),
                    batch.source,
                )
                for c in batch.candles
            ],
        )
        return len(batch.candles)


@pytest.fixture
async def writer_stand_in(isolated_bus: IsolatedBus, db_pool: asyncpg.Pool) -> list[CandleBatchV1]:
    """Consume the writer's queue on the isolated bus; returns the batches seen."""
    seen: list[CandleBatchV1] = []

    async def handle(batch: CandleBatchV1) -> None:
        rows = await store_batch(db_pool, batch)
        seen.append(batch)
        times = [c.t for c in batch.candles]
        await isolated_bus.bus.publish(
            CandlesStoredV1(
                batch_id=batch.batch_id,
                job_id=batch.job_id,
                symbol=batch.symbol,
                interval=batch.interval,
                source=batch.source,
                first_t=min(times, default=None),
                last_t=max(times, default=None),
                candles=len(batch.candles),
                rows_changed=rows,
            )
        )

    await isolated_bus.bus.consume(WRITER_CANDLES, CandleBatchV1, handle)
    return seen


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: Settings
    ingester: CryptoIngester
    bus: Bus
    batches: list[CandleBatchV1]

    async def backfill(
        self, symbol: str, start: datetime, end: datetime, interval: str = "1h"
    ) -> uuid.UUID:
        return await request_crypto_backfill(
            self.pool,
            self.bus,
            symbol=symbol,
            interval=interval,
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


async def _build(
    isolated_bus: IsolatedBus,
    db_pool: asyncpg.Pool,
    writer_stand_in: list[CandleBatchV1],
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
    return Pipeline(db_pool, settings, ingester, isolated_bus.bus, writer_stand_in)


@pytest.fixture
async def make_pipeline(
    isolated_bus: IsolatedBus, db_pool: asyncpg.Pool, writer_stand_in: list[CandleBatchV1]
) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    """Build the ingester consuming on the isolated bus, with setting overrides."""
    built: list[Pipeline] = []

    async def make(**overrides: object) -> Pipeline:
        pipeline = await _build(isolated_bus, db_pool, writer_stand_in, **overrides)
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        await pipeline.ingester.client.http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
