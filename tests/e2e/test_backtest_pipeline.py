"""Issue 4's path end to end: candles ingested from the (fake) Binance through
ingest-crypto and the writer, then a 174-combination grid submitted to the
gateway, run by two backtest workers, watched over SSE to its summary. The
summary's best result equals the engine run in this process on the candles the
prices API serves, and `/run` answers the same metrics with the trade list."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import httpx
import numpy as np
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait
from ticktide_backtest_worker.engine import Bars, run_grid

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A pair of its own: the e2e tests share one database, and others count BTCUSDT rows.
SYMBOL = "BKTUSDT"

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)  # 1440 hourly bars
COSTS = {"fee": 0.001, "slippage_bps": 5.0, "initial_cash": 10_000.0}


async def _events_until_summary(client: httpx.AsyncClient, url: str) -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []
    current: dict[str, str] = {}
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line == "":
                if "data" in current:
                    found.append((current["event"], json.loads(current["data"])))
                    if current["event"] == "summary":
                        return found
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                current[name] = value
    return found


async def test_grid_through_two_workers_matches_the_engine_on_the_served_candles(
    crypto_stack_with_workers: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    stack = crypto_stack_with_workers
    stack.binance.add_series(SYMBOL, "1h", START, END)
    async with httpx.AsyncClient(
        base_url=stack.api, timeout=60, headers=await admin_headers(db_pool)
    ) as client:
        await backfill_and_wait(client, SYMBOL, START, END)

        batch = await client.post(
            "/api/crypto/backtest/batch",
            json={
                "symbols": [SYMBOL],
                "intervals": ["1h"],
                "start": START.isoformat(),
                "end": END.isoformat(),
                "strategy": "sma_cross",
                "grid": {"fast": "5:50:5", "slow": "20:200:10"},
                "rank_by": "sharpe",
                "walk_forward": None,
                **COSTS,
            },
        )
        assert batch.status_code == 202, batch.text
        assert batch.json()["jobs"] == 4  # 174 combinations, 50 per job
        events = await asyncio.wait_for(
            _events_until_summary(client, batch.json()["events_url"]), 120
        )
        summary = events[-1][1]
        assert summary["results"] == 174 and summary["jobs_done"] == 4
        assert sum(1 for kind, _ in events if kind == "result") == 174
        best = summary["best"][0]

        prices = (
            await client.get(
                "/api/crypto/prices",
                params={
                    "symbol": SYMBOL,
                    "interval": "1h",
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "limit": 5000,
                },
            )
        ).json()["candles"]
        run = await client.post(
            "/api/crypto/backtest/run",
            json={
                "symbol": SYMBOL,
                "interval": "1h",
                "start": START.isoformat(),
                "end": END.isoformat(),
                "strategy": "sma_cross",
                "params": best["params"],
                **COSTS,
            },
        )

    assert len(prices) == 1440
    times = np.array(
        [int(datetime.fromisoformat(c["t"].replace("Z", "+00:00")).timestamp()) for c in prices]
    )
    columns = {k: np.array([c[k] for c in prices], dtype=np.float64) for k in "ohlcv"}
    bars = Bars(times, columns["o"], columns["h"], columns["l"], columns["c"], columns["v"])
    [local] = run_grid(bars, "sma_cross", [best["params"]], interval="1h", **COSTS)
    for name, value in best["metrics"].items():
        expected = local.metrics[name]
        if value is None:
            assert expected is None or not np.isfinite(expected), name
        else:
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), name

    assert run.status_code == 200, run.text
    answer = run.json()
    assert answer["metrics"] == best["metrics"]
    assert len(answer["trades"]) == best["metrics"]["trades"]
