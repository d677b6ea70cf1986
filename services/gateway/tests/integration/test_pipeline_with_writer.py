"""The real writer stores a published batch, its stored event drops the gateway's
cache, and the prices endpoint then serves the new candles digit for digit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until

T0 = datetime(2024, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
async def writer(service_env: dict[str, str], log_dir: Path) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    process = ServiceProcess(
        "ticktide_writer",
        {**service_env, "WRITER_PORT": str(port)},
        port,
        log_dir,
        name="writer-for-gateway",
    )
    await process.start()
    yield process
    process.stop()


async def test_stored_batch_invalidates_cached_prices(
    api: httpx.AsyncClient, writer: ServiceProcess, bus: Bus, db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    await candle_store(db_pool, "PIPEUSDT", "1h", [(T0, "10.5", "11", "10", "10.75", "3")])
    params = {
        "symbol": "PIPEUSDT",
        "interval": "1h",
        "start": "2024-06-01T00:00:00Z",
        "end": "2024-06-02T00:00:00Z",
    }
    first = (await api.get("/api/crypto/prices", params=params)).json()
    assert len(first["candles"]) == 1

    async def cached() -> bool:  # stored after the first answer was sent
        second = await api.get("/api/crypto/prices", params=params)
        return second.headers["x-cache"] == "hit"

    await wait_until(cached, timeout=5, interval=0.02, what="the first answer cached")

    strings = [
        ("64123.45000000", "64200.00000000", "64000.01000000", "64150.99000000", "12.34567800"),
        ("0.00001234", "0.00001300", "0.00001200", "0.00001250", "98765432.00000000"),
    ]
    await bus.publish(
        CandleBatchV1(
            batch_id=uuid.uuid4(),
            symbol="PIPEUSDT",
            interval="1h",
            source="binance",
            candles=[
                CandleV1(t=T0 + (i + 1) * HOUR, o=o, h=h, l=lo, c=c, v=v)
                for i, (o, h, lo, c, v) in enumerate(strings)
            ],
        )
    )

    async def served() -> bool:
        body = (await api.get("/api/crypto/prices", params=params)).json()
        return len(body["candles"]) == 3

    await wait_until(served, timeout=20, what="writer's stored event reaching the gateway")
    candles = (await api.get("/api/crypto/prices", params=params)).json()["candles"]
    for candle, values in zip(candles[1:], strings, strict=True):
        assert [repr(candle[k]) for k in "ohlcv"] == [repr(float(s)) for s in values]
    assert candles[1]["t"] == "2024-06-01T01:00:00Z"
