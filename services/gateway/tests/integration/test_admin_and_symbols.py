"""Backfill requests and jobs, the quality report, and the symbols listing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from ticktide_common.bus import Bus
from ticktide_common.messages import CryptoBackfillRequestedV1
from ticktide_common.topology import INGEST_CRYPTO_BACKFILLS

T0 = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _take_command(bus: Bus, job_id: str, timeout: float = 10.0) -> CryptoBackfillRequestedV1:
    """Get the command for `job_id` from ingest-crypto's queue; others go back."""
    channel = await bus.connection.channel()
    try:
        queue = await channel.declare_queue(
            bus.topology.queue_name(INGEST_CRYPTO_BACKFILLS), passive=True
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            command = CryptoBackfillRequestedV1.model_validate_json(message.body)
            if str(command.job_id) == job_id:
                await message.ack()
                return command
            await message.nack(requeue=True)
        raise AssertionError(f"no backfill command for job {job_id} in the queue")
    finally:
        await channel.close()


async def test_backfill_creates_job_and_publishes_command(
    api: httpx.AsyncClient, bus: Bus, db_pool: asyncpg.Pool, admin_user: tuple[int, str, str]
) -> None:
    response = await api.post(
        "/api/admin/ingest/crypto/backfill",
        json={
            "symbol": "solusdt",
            "interval": "4h",
            "start": "2024-01-01T00:00:00+02:00",
            "end": "2024-02-01",
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    job_id = body["job_id"]
    assert body["status_url"] == f"/api/admin/ingest/jobs/{job_id}"

    row = await db_pool.fetchrow("SELECT * FROM ingest_jobs WHERE id = $1", uuid.UUID(job_id))
    assert row is not None
    assert (row["kind"], row["symbol"], row["interval_type"], row["status"]) == (
        "backfill",
        "SOLUSDT",
        "4h",
        "queued",
    )
    assert row["range_start"] == datetime(2023, 12, 31, 22, tzinfo=UTC)
    assert row["requested_by"] == admin_user[1]

    command = await _take_command(bus, job_id)
    assert (command.symbol, command.interval) == ("SOLUSDT", "4h")
    assert (command.start, command.end) == (
        datetime(2023, 12, 31, 22, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    )

    status = (await api.get(body["status_url"])).json()
    assert (status["job_id"], status["status"], status["symbol"]) == (job_id, "queued", "SOLUSDT")
    assert status["batches_stored"] == 0


async def test_quality_reports_holes_and_refills(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    present = [h for h in range(24) if h not in (5, 6, 7, 15)]
    crypto_id = await candle_store(
        db_pool, "QUALUSDT", "1h", [(T0 + h * HOUR, "1", "1", "1", "1", "1") for h in present]
    )
    await db_pool.execute(
        """INSERT INTO crypto_gaps (crypto_id, interval_type, gap_start, gap_end, candles, status,
                                    refilled_candles)
           VALUES ($1, '1h', $2, $3, 2, 'refilled', 2)""",
        crypto_id,
        T0 + 20 * HOUR,
        T0 + 22 * HOUR,
    )
    response = await api.get("/api/crypto/quality", params={"symbol": "QUALUSDT", "interval": "1h"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "symbol": "QUALUSDT",
        "interval": "1h",
        "first": "2024-03-01T00:00:00Z",
        "last": "2024-03-01T23:00:00Z",
        "expected": 24,
        "present": 20,
        "missing": 4,
        "refilled": 2,
        "gaps": [
            {"start": "2024-03-01T05:00:00Z", "end": "2024-03-01T08:00:00Z", "candles": 3},
            {"start": "2024-03-01T15:00:00Z", "end": "2024-03-01T16:00:00Z", "candles": 1},
        ],
    }
    empty = (
        await api.get("/api/crypto/quality", params={"symbol": "QUALUSDT", "interval": "1d"})
    ).json()
    assert (empty["expected"], empty["present"], empty["gaps"]) == (0, 0, [])


async def test_symbols_lists_active_with_ranges_and_sources(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    await candle_store(
        db_pool,
        "LISTUSDT",
        "1d",
        [(T0 + timedelta(days=d), "1", "1", "1", "1", "1") for d in range(3)],
        source="simulated",
    )
    await db_pool.execute(
        "INSERT INTO cryptocurrencies (symbol, name, binance_symbol, is_active)"
        " VALUES ('OFF', 'Off', 'OFFUSDT', false)"
    )
    body = (await api.get("/api/crypto/symbols")).json()
    by_symbol = {s["symbol"]: s for s in body["symbols"]}
    assert "OFFUSDT" not in by_symbol
    assert by_symbol["BTCUSDT"]["name"] == "Bitcoin"
    assert by_symbol["LISTUSDT"]["source"] == "simulated"
    assert by_symbol["LISTUSDT"]["intervals"] == {
        "1d": {
            "candles": 3,
            "first": "2024-03-01T00:00:00Z",
            "last": "2024-03-03T00:00:00Z",
            "source": "simulated",
        }
    }
