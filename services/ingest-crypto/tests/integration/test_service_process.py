"""`python -m ticktide_ingest_crypto` as a real subprocess: health and readiness,
a backfill through the bus to done (the real writer in-process in the test), its hole
refilled automatically once the source has it, clean stop."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ticktide_common.jobs import request_backfill
from ticktide_common.messages import CryptoBackfillRequestedV1
from ticktide_common.testing.ingest import assert_serving, finished_job
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until


async def test_service_runs_a_backfill(
    isolated_bus,
    writer,
    fake_binance,
    db_pool,
    service_env: dict[str, str],
    log_dir: Path,
    symbol: str,
) -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    end = start + timedelta(days=50)
    hole = start + timedelta(hours=40)
    fake_binance.add_series(symbol, "4h", start, end, holes=[hole])
    port = free_port()
    env = {
        **service_env,
        "TICKTIDE_BUS_PREFIX": isolated_bus.settings.ticktide_bus_prefix,
        "BINANCE_BASE_URL": fake_binance.url,
        "INGEST_CRYPTO_PORT": str(port),
        "CRYPTO_FINALIZE_SWEEP_SECONDS": "0.5",
        "CRYPTO_GAP_RETRY_SECONDS": "1",
        "CRYPTO_GAP_MAX_REFILL_ATTEMPTS": "100",
    }
    service = await ServiceProcess("ticktide_ingest_crypto", env, port, log_dir).start()
    try:
        ready = await assert_serving(service, "ingest-crypto")
        assert set(ready["checks"]) == {"postgres", "rabbitmq"}
        async with httpx.AsyncClient(base_url=service.url) as http:
            assert "python_info" in (await http.get("/metrics")).text

        job_id = await request_backfill(
            db_pool,
            isolated_bus.bus,
            CryptoBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol=symbol,
                interval="4h",
                start=start,
                end=end,
                requested_by="tests",
            ),
        )

        progress = await finished_job(
            db_pool, job_id, timeout=40, what="backfill through the service"
        )
        assert progress.status == "done", service.log_tail()
        assert progress.candles_stored == 299
        gaps = await db_pool.fetchval(
            """SELECT count(*) FROM crypto_gaps g JOIN cryptocurrencies c ON c.id = g.crypto_id
               WHERE c.binance_symbol = $1 AND g.status = 'open'""",
            symbol,
        )
        assert gaps == 1

        # The source gets the bar; the periodic gap retry fetches it → refilled.
        fake_binance.heal(symbol, "4h")

        async def refilled() -> bool:
            row = await db_pool.fetchrow(
                """SELECT g.status, g.refilled_candles FROM crypto_gaps g
                   JOIN cryptocurrencies c ON c.id = g.crypto_id
                   WHERE c.binance_symbol = $1 AND g.gap_start = $2""",
                symbol,
                hole,
            )
            return row is not None and tuple(row) == ("refilled", 1)

        await wait_until(refilled, timeout=30, what="the healed gap to be refilled")
        count = await db_pool.fetchval(
            """SELECT count(*) FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
               WHERE c.binance_symbol = $1""",
            symbol,
        )
        assert count == 300
    finally:
        service.stop()
    # uvicorn drains, runs the lifespan's shutdown, then re-raises SIGTERM (-15).
    assert service.process is not None and service.process.returncode in (0, -15)
    assert "Application shutdown complete." in service.log_tail(), service.log_tail()
