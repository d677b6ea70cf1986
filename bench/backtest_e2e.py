"""Bench: backtests end to end through the API and two worker processes.

A 174-combination SMA-crossover grid (fast 5..50 step 5 × slow 20..200 step 10,
fast < slow) on 100,000 hourly bars, submitted to the gateway and run by two
backtest workers: seconds from the POST to the `summary` event on the SSE stream
(target, issue 4: under 2 s). Then a 10,000-combination grid: seconds to the
summary, backtests per second, and each worker's utilisation (the time it had a
job in hand — load, run, store — over the wall time of the batch), read from the
workers' `backtest.job_done` log lines. Warm: a small batch runs first, so each
worker has its compiled code and the series in memory.

    uv run python bench/backtest_e2e.py
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from ticktide_backtest_worker.settings import WorkerSettings
from ticktide_common.migrate import apply_migrations
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

SYMBOL = "BENCHUSDT"
BARS = 100_000
START = datetime(2010, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=BARS)
TARGET_174_SECONDS = 2.0
GRID_174 = {"fast": "5:50:5", "slow": "20:200:10"}
GRID_10K = {"fast": "2:101:1", "slow": "110:308:2"}  # 100 × 100, all fast < slow


def _replace_database(dsn: str, database: str) -> str:
    base, _, rest = dsn.rpartition("/")
    _, _, query = rest.partition("?")
    return f"{base}/{database}" + (f"?{query}" if query else "")


async def _prepare(admin_dsn: str, name: str) -> tuple[str, str]:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _replace_database(admin_dsn, name)
    await apply_migrations(dsn)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        crypto_id = await pool.fetchval(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
            " VALUES ('BENCH', 'Bench coin', $1) RETURNING id",
            SYMBOL,
        )
        rng = random.Random(11)
        price, rows = 100.0, []
        for i in range(BARS):
            open_ = price
            price = max(1.0, price * math.exp(rng.gauss(0, 0.01)))
            high, low = max(open_, price) * 1.002, min(open_, price) * 0.998
            rows.append(
                (
                    crypto_id,
                    START + timedelta(hours=i),
                    "1h",
                    *(Decimal(f"{x:.8f}") for x in (open_, high, low, price, 1000.0)),
                    "binance",
                )
            )
        columns = ["crypto_id", "datetime", "interval_type", "open_price", "high_price"]
        columns += ["low_price", "close_price", "volume", "source"]
        async with pool.acquire() as connection:
            await connection.copy_records_to_table("crypto_prices", records=rows, columns=columns)
        user_id, _ = await create_test_user(pool)
        token = await create_test_token(pool, user_id)
    finally:
        await pool.close()
    return dsn, token


async def _batch_to_summary(client: httpx.AsyncClient, grid: dict[str, str]) -> tuple[float, Any]:
    body = {
        "symbols": [SYMBOL],
        "intervals": ["1h"],
        "start": START.isoformat(),
        "end": END.isoformat(),
        "strategy": "sma_cross",
        "grid": grid,
        "fee": 0.001,
        "slippage_bps": 2,
        "initial_cash": 10_000,
    }
    started = time.perf_counter()
    answer = await client.post("/api/crypto/backtest/batch", json=body)
    answer.raise_for_status()
    async with client.stream("GET", answer.json()["events_url"]) as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "summary":
                return time.perf_counter() - started, json.loads(line[6:])
    raise RuntimeError("the stream ended without a summary")


def _busy_seconds(worker: ServiceProcess, batch_id: str) -> float:
    """Wall time during which the worker had at least one job of the batch in hand
    (the union of its jobs' intervals: with prefetch 2, two may overlap)."""
    spans: list[tuple[float, float]] = []
    for line in worker.log_path.read_text(errors="replace").splitlines():
        if '"backtest.job_done"' in line and batch_id in line:
            record = json.loads(line)
            end = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
            spans.append((end - float(record["seconds"]), end))
    busy, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            busy += end - max(start, reach)
            reach = end
    return busy


async def run() -> list[dict[str, Any]]:
    base = WorkerSettings()  # the servers a worker reads: database, Redis, bus
    run_id = f"bench{uuid.uuid4().hex[:8]}"
    admin_dsn = _replace_database(base.database_url, "postgres")
    database = f"ticktide_bench_{run_id}"
    dsn, token = await _prepare(admin_dsn, database)
    env = {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": dsn,
        "REDIS_URL": base.redis_url,
        "AMQP_URL": base.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_id,
        "TICKTIDE_REDIS_PREFIX": f"{run_id}:",
        "LOG_LEVEL": "INFO",
        "AUTH_URL": f"http://127.0.0.1:{free_port()}",
    }
    logs = Path(tempfile.mkdtemp(prefix="ticktide-bench-backtest-"))
    port = free_port()
    processes = [ServiceProcess("ticktide_gateway", {**env, "GATEWAY_PORT": str(port)}, port, logs)]
    for index in range(2):
        worker_port = free_port()
        processes.append(
            ServiceProcess(
                "ticktide_backtest_worker",
                {**env, "BACKTEST_WORKER_PORT": str(worker_port)},
                worker_port,
                logs,
                name=f"backtest-worker-{index}",
            )
        )
    rows: list[dict[str, Any]] = []
    try:
        await asyncio.gather(*(p.start(timeout=90) for p in processes))
        gateway, workers = processes[0], processes[1:]
        async with httpx.AsyncClient(
            base_url=gateway.url, timeout=600, headers=bearer(token)
        ) as client:
            await _batch_to_summary(client, {"fast": [5, 10], "slow": [20, 30]})  # warm-up
            seconds, summary = await _batch_to_summary(client, GRID_174)
            rows.append(
                {
                    "case": "174 combos × 100k bars, 2 workers",
                    "seconds_to_summary": round(seconds, 3),
                    "backtests_per_s": round(summary["results"] / seconds, 1),
                    "bar_evals_per_s": f"{summary['results'] * BARS / seconds:.2e}",
                    "utilisation": "",
                    "target": f"< {TARGET_174_SECONDS} s",
                    "ok": seconds < TARGET_174_SECONDS,
                }
            )
            seconds, summary = await _batch_to_summary(client, GRID_10K)
            busy = [_busy_seconds(w, summary["batch_id"]) for w in workers]
            rows.append(
                {
                    "case": "10,000 combos × 100k bars, 2 workers",
                    "seconds_to_summary": round(seconds, 3),
                    "backtests_per_s": round(summary["results"] / seconds, 1),
                    "bar_evals_per_s": f"{summary['results'] * BARS / seconds:.2e}",
                    "utilisation": " / ".join(f"{b / seconds:.0%}" for b in busy),
                    "target": "both workers busy",
                    "ok": all(b / seconds > 0.5 for b in busy),
                }
            )
    finally:
        for process in processes:
            process.stop()
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
    return rows


def main() -> list[dict[str, Any]]:
    rows = asyncio.run(run())
    for row in rows:
        print(row)
    return rows


if __name__ == "__main__":
    main()
