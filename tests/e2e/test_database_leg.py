"""Which database the real services of a run land on (issue 11's two legs): the
stack's DATABASE_URL is on the very server TICKTIDE_TEST_ADMIN_DSN names, and a
candle the real writer stores ends up in a hypertable chunk there when that server
has TimescaleDB preloaded. Asked of the database, never assumed from the port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait
from ticktide_common.testing.fixtures import ADMIN_DSN

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = datetime(2019, 3, 1, tzinfo=UTC)  # a range no other test stores


async def _server(dsn: str) -> tuple[int, bool]:
    """(the cluster's system identifier, TimescaleDB preloaded there)."""
    connection = await asyncpg.connect(dsn)
    try:
        identifier = await connection.fetchval("SELECT system_identifier FROM pg_control_system()")
        preloaded = "timescaledb" in await connection.fetchval("SHOW shared_preload_libraries")
    finally:
        await connection.close()
    return int(identifier), bool(preloaded)


async def test_the_stack_writes_to_the_admin_dsn_server(
    crypto_stack: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    admin_server, preloaded = await _server(ADMIN_DSN)
    stack_server, _ = await _server(crypto_stack.env["DATABASE_URL"])
    assert stack_server == admin_server, (ADMIN_DSN, crypto_stack.env["DATABASE_URL"])

    end = START + timedelta(hours=6)
    crypto_stack.binance.add_series("BTCUSDT", "1h", START, end)
    async with httpx.AsyncClient(
        base_url=crypto_stack.api, headers=await admin_headers(db_pool), timeout=30
    ) as client:
        await backfill_and_wait(client, "BTCUSDT", START, end)

    stored = await db_pool.fetchval(
        "SELECT count(*) FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id"
        " WHERE c.binance_symbol = 'BTCUSDT' AND p.interval_type = '1h'"
        " AND p.datetime >= $1 AND p.datetime < $2",
        START,
        end,
    )
    assert stored == 6
    extension = await db_pool.fetchval(
        "SELECT count(*) > 0 FROM pg_extension WHERE extname = 'timescaledb'"
    )
    assert extension == preloaded  # the runner used TimescaleDB exactly where it is usable
    if preloaded:
        chunks = await db_pool.fetchval(
            "SELECT count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'crypto_prices'"
            " AND range_start <= $1 AND range_end > $1",
            START,
        )
        assert chunks == 1
