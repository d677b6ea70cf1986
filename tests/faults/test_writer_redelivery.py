"""Fault: the writer dies between commit and ack (`TICKTIDE_FAULT_EXIT_AFTER_COMMIT`).

The broker redelivers the unacked batch to the next writer, which must find
it already recorded: no candle row is written twice, and the stored event
that the dead writer never published is published now.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CandleV1
from ticktide_common.testing.events import EventProbe
from ticktide_common.testing.fixtures import RunSettings
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until
from ticktide_common.topology import WRITER_CANDLES, Topology

SYMBOL = "TTKILLEDUSDT"
T0 = datetime(2024, 7, 1, tzinfo=UTC)


def writer_process(
    service_env: dict[str, str], log_dir: Path, name: str, **extra_env: str
) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(
        "ticktide_writer",
        {**service_env, "WRITER_PORT": str(port), **extra_env},
        port,
        log_dir,
        name=name,
    )


async def test_batch_redelivered_after_a_crash_between_commit_and_ack(
    service_env: dict[str, str],
    log_dir: Path,
    settings: RunSettings,
    topology: Topology,
    bus: Bus,
    db_pool: asyncpg.Pool,
) -> None:
    candles = [
        CandleV1(
            t=T0 + timedelta(hours=i),
            o=f"{100 + i}.10000000",
            h=f"{101 + i}.00000001",
            l=f"{99 + i}.99999999",
            c=f"{100 + i}.50000000",
            v=f"{i}.12345678",
        )
        for i in range(240)
    ]
    message = CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol=SYMBOL,
        interval="1h",
        source="binance",
        candles=candles,
    )

    async def row_count() -> int:
        count = await db_pool.fetchval(
            """SELECT count(*) FROM crypto_prices p
               JOIN cryptocurrencies c ON c.id = p.crypto_id
               WHERE c.binance_symbol = $1""",
            SYMBOL,
        )
        return int(count)

    async with EventProbe(settings.amqp_url, topology, CandlesStoredV1) as stored:
        dying = await writer_process(
            service_env, log_dir, "writer-dying", TICKTIDE_FAULT_EXIT_AFTER_COMMIT="1"
        ).start()
        try:
            await bus.publish(message)

            async def died() -> bool:
                return dying.process is not None and dying.process.poll() is not None

            await wait_until(died, timeout=30, what="the writer to exit after its commit")
            assert dying.process is not None and dying.process.returncode == 137, dying.log_tail()
        finally:
            dying.kill()

        # Committed, but neither announced nor acked.
        assert await row_count() == len(candles)
        assert not stored.matching(lambda e: e.batch_id == message.batch_id)

        survivor = await writer_process(service_env, log_dir, "writer-survivor").start()
        try:
            [event] = await stored.wait_for(lambda e: e.batch_id == message.batch_id)

            async def queue_drained() -> bool:
                ready, _ = await bus.queue_status(WRITER_CANDLES)
                return ready == 0

            await wait_until(queue_drained, timeout=15, what="the writer queue to drain")
        finally:
            survivor.stop()

    assert (event.candles, event.rows_changed, event.job_id) == (240, 0, message.job_id)
    assert (event.first_t, event.last_t) == (candles[0].t, candles[-1].t)
    assert await row_count() == len(candles)
    rows = await db_pool.fetch(
        """SELECT p.datetime, p.open_price::text, p.high_price::text, p.low_price::text,
                  p.close_price::text, p.volume::text
           FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 ORDER BY p.datetime""",
        SYMBOL,
    )
    assert [tuple(r) for r in rows] == [(c.t, c.o, c.h, c.l, c.c, c.v) for c in candles]
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", message.batch_id
        )
        == 1
    )
    assert "fault.exit_after_commit" in dying.log_tail(200)
