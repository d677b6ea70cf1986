"""RabbitMQ drops every connection in the middle of a backfill
(`rabbitmqctl close_all_connections`, scoped to a vhost of this test): the
services reconnect and the backfill completes with every candle stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import admin_headers, request_backfill, stack_env, start_stack
from ticktide_common.testing.broker import (
    close_all_connections,
    rabbitmqctl_available,
    temporary_vhost,
)
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not rabbitmqctl_available(), reason="needs rabbitmqctl on this host"),
]

SYMBOL = "SOLUSDT"
START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 1, tzinfo=UTC)  # 17,520 hourly candles, 18 pages


async def test_backfill_survives_closed_connections(
    service_env: dict[str, str],
    run_id: str,
    database_url: str,
    db_pool: asyncpg.Pool,
    log_dir: Path,
) -> None:
    vhost = f"{run_id}-faults"
    with FakeBinance() as binance, temporary_vhost(vhost, service_env["AMQP_URL"]) as amqp_url:
        served = binance.add_series(SYMBOL, "1h", START, END)
        binance.set_latency(0.25)  # about 5 s of fetching: time to pull the plug twice
        stack = await start_stack(
            binance, stack_env(service_env, binance.url, AMQP_URL=amqp_url), log_dir
        )
        try:
            async with httpx.AsyncClient(
                base_url=stack.api, timeout=30, headers=await admin_headers(db_pool)
            ) as client:
                job_url = await request_backfill(client, SYMBOL, START, END)

                async def job() -> dict:
                    return dict((await client.get(job_url)).json())

                async def some_stored() -> bool:
                    return int((await job())["candles_stored"]) >= 2000

                await wait_until(some_stored, timeout=60, what="the first batches stored")
                before = await job()
                assert before["status"] in ("running", "queued"), before
                await close_all_connections(vhost, "fault test: mid-backfill")
                await wait_until(
                    lambda: _more_stored(job, before),
                    timeout=60,
                    what="storing to resume after the reconnect",
                )
                middle = await job()
                if middle["status"] == "running":
                    await close_all_connections(vhost, "fault test: again")

                async def done() -> bool:
                    state = await job()
                    assert state["status"] != "failed", state
                    return state["status"] == "done"

                await wait_until(done, timeout=120, what="the backfill to complete")
                assert (await job())["candles_stored"] >= served
        finally:
            await stack.close()

        connection = await asyncpg.connect(database_url)
        try:
            stored = await connection.fetch(
                """SELECT (extract(epoch FROM p.datetime) * 1000)::bigint AS t,
                          p.close_price::text AS c
                   FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
                   WHERE c.binance_symbol = $1 AND p.interval_type = '1h' ORDER BY 1""",
                SYMBOL,
            )
        finally:
            await connection.close()
        assert len(stored) == served
        assert [(r["t"], r["c"]) for r in stored] == [
            (k[0], k[4]) for k in binance.served_klines(SYMBOL, "1h")
        ]


async def _more_stored(job, before: dict) -> bool:  # type: ignore[no-untyped-def]
    state = await job()
    return bool(state["candles_stored"] > before["candles_stored"] or state["status"] == "done")
