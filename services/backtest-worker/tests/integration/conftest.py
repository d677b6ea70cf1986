"""A backtest stack as real processes: the gateway and two backtest workers on this
run's database, with a bus and Redis prefix of their own; users with API tokens
made in the database; one hourly candle series stored with SQL."""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_common.topology import Topology

SYMBOL = "BTWUSDT"
SERIES_START = datetime(2024, 1, 1, tzinfo=UTC)
SERIES_BARS = 400


@dataclass
class BacktestStack:
    gateway: ServiceProcess
    workers: list[ServiceProcess]
    env: dict[str, str]
    owner_headers: dict[str, str]
    other_headers: dict[str, str]
    owner_id: int
    extra: list[ServiceProcess] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.gateway.url

    def worker_env(self) -> dict[str, str]:
        return {**self.env, "BACKTEST_WORKER_PORT": str(free_port())}

    async def start_worker(self, log_dir: Path) -> ServiceProcess:
        env = self.worker_env()
        worker = ServiceProcess(
            "ticktide_backtest_worker",
            env,
            int(env["BACKTEST_WORKER_PORT"]),
            log_dir,
            name="backtest-worker",
        )
        await worker.start(timeout=60)
        self.workers.append(worker)
        return worker


async def store_series(pool: asyncpg.Pool, symbol: str, bars: int) -> None:
    """A seeded random walk of `bars` hourly candles from SERIES_START."""
    rng = random.Random(7)
    crypto_id = await pool.fetchval(
        """INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $2)
           ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true RETURNING id""",
        symbol.removesuffix("USDT"),
        symbol,
    )
    rows = []
    price = 100.0
    for i in range(bars):
        open_ = price
        price = max(1.0, price * math.exp(rng.gauss(0, 0.02)))
        high, low = max(open_, price) * 1.005, min(open_, price) * 0.995
        values = (Decimal(f"{x:.4f}") for x in (open_, high, low, price, 10 + i % 7))
        rows.append((crypto_id, SERIES_START + timedelta(hours=i), "1h", *values, "binance"))
    await pool.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                                      low_price, close_price, volume, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING""",
        rows,
    )


@pytest.fixture(scope="session")
async def backtest_stack(
    service_env: dict[str, str], log_dir: Path, db_pool: asyncpg.Pool
) -> AsyncIterator[BacktestStack]:
    stack_id = uuid.uuid4().hex[:6]
    env = {
        **service_env,
        "TICKTIDE_BUS_PREFIX": f"{service_env['TICKTIDE_BUS_PREFIX']}-bt{stack_id}",
        "TICKTIDE_REDIS_PREFIX": f"{service_env['TICKTIDE_REDIS_PREFIX']}bt{stack_id}:",
        # One parameter set per job: a grid of N combinations is N jobs.
        "BACKTEST_JOB_COMBINATIONS": "1",
        "AUTH_URL": f"http://127.0.0.1:{free_port()}",
    }
    await store_series(db_pool, SYMBOL, SERIES_BARS)
    owner_id, _ = await create_test_user(db_pool)
    other_id, _ = await create_test_user(db_pool)
    port = free_port()
    gateway = ServiceProcess(
        "ticktide_gateway", {**env, "GATEWAY_PORT": str(port)}, port, log_dir, name="bt-gateway"
    )
    stack = BacktestStack(
        gateway=gateway,
        workers=[],
        env=env,
        owner_headers=bearer(await create_test_token(db_pool, owner_id)),
        other_headers=bearer(await create_test_token(db_pool, other_id)),
        owner_id=owner_id,
    )
    try:
        await gateway.start()
        for _ in range(2):
            await stack.start_worker(log_dir)
        yield stack
    finally:
        for process in (gateway, *stack.workers):
            process.stop()
        await delete_bus_names(env["AMQP_URL"], Topology(env["TICKTIDE_BUS_PREFIX"]))


def batch_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "symbols": [SYMBOL],
        "intervals": ["1h"],
        "start": SERIES_START.isoformat(),
        "end": (SERIES_START + timedelta(hours=SERIES_BARS)).isoformat(),
        "strategy": "sma_cross",
        "grid": {"fast": [3, 5], "slow": [20, 30]},
        "fee": 0.001,
        "slippage_bps": 2,
        "initial_cash": 10000,
        "rank_by": "sharpe",
        "walk_forward": None,
    }
    body.update(overrides)
    return body


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    limit: int | None = None,
    last_event_id: str | None = None,
) -> list[tuple[str, str, dict[str, object]]]:
    """(id, event, data) of an SSE response until `summary`, the end, or `limit`."""
    sent = dict(headers)
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    found: list[tuple[str, str, dict[str, object]]] = []
    async with client.stream("GET", url, headers=sent) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        found = await collect(response, limit)
    return found


async def collect(
    response: httpx.Response, limit: int | None
) -> list[tuple[str, str, dict[str, object]]]:
    found: list[tuple[str, str, dict[str, object]]] = []
    current: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if "data" in current:
                found.append((current["id"], current["event"], json.loads(current["data"])))
                if current["event"] == "summary" or (limit is not None and len(found) >= limit):
                    return found
            current = {}
            continue
        name, _, value = line.partition(": ")
        current[name] = value
    return found
