"""`python -m ticktide_ingest_stocks` as a real subprocess: health and
readiness, the configured symbols ensured in `stocks`, a Helsinki backfill of
NDA-FI (the provider's 'NDA FI') through the bus to done, clean stop."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from ticktide_common.jobs import request_backfill
from ticktide_common.messages import StocksBackfillRequestedV1
from ticktide_common.testing.ingest import assert_serving, finished_job
from ticktide_common.testing.processes import ServiceProcess, free_port


async def test_service_runs_a_backfill(
    isolated_bus,
    writer,
    fake_nasdaq,
    db_pool,
    service_env: dict[str, str],
    log_dir: Path,
    us_symbol: str,
) -> None:
    start, end = date(2024, 11, 1), date(2024, 12, 15)
    served = fake_nasdaq.add_nordic_series("NDA FI", start, end, full_name="Nordea Bank Abp")
    port = free_port()
    env = {
        **service_env,
        "TICKTIDE_BUS_PREFIX": isolated_bus.settings.ticktide_bus_prefix,
        "NASDAQ_BASE_URL": fake_nasdaq.url,
        "NASDAQ_NORDIC_BASE_URL": fake_nasdaq.url,
        "INGEST_STOCKS_PORT": str(port),
        "INGEST_FINALIZE_SWEEP_SECONDS": "0.5",
        "STOCKS_SCHEDULER_ENABLED": "0",
        "STOCK_SYMBOLS_NASDAQ": f"AAPL,{us_symbol}",
        "STOCK_SYMBOLS_OMXH": "NDA-FI",
        "TICKTIDE_SIMULATED_FALLBACK": "0",
    }
    service = await ServiceProcess("ticktide_ingest_stocks", env, port, log_dir).start()
    try:
        await assert_serving(service, "ingest-stocks")
        row = await db_pool.fetchrow(
            "SELECT exchange, currency, name FROM stocks WHERE symbol = $1", us_symbol
        )
        assert row is not None and tuple(row) == ("NASDAQ", "USD", us_symbol)

        job_id = await request_backfill(
            db_pool,
            isolated_bus.bus,
            StocksBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol="NDA-FI",
                exchange="OMXH",
                start=start,
                end=end,
                requested_by="tests",
            ),
        )

        progress = await finished_job(db_pool, job_id, timeout=30, what="the NDA-FI backfill")
        assert progress.status == "done", progress
        assert progress.candles_stored == served
        stock = await db_pool.fetchrow(
            "SELECT provider_symbol, orderbook_id FROM stocks WHERE symbol = 'NDA-FI'"
        )
        assert stock is not None
        assert tuple(stock) == ("NDA FI", fake_nasdaq.orderbook_id("NDA FI"))
    finally:
        service.stop()
