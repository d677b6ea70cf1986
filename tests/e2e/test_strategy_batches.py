"""Saved language strategies through the whole stack: a strategy saved through
the API, a grid of it submitted as `"strategy": {"id", "version"}`, run by the
backtest workers, gives the same results as the built-in it restates (the
language's sma_cross against the built-in kernel's, bit for bit, over 1,440
candles served by the writer); the batch records the version it ran and every
result the engine version. References the caller may not run, and grids that
look back further than the range holds, are refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.test_backtest_pipeline import _events_until_summary
from tests.stack import CryptoStack, admin_headers, backfill_and_wait
from ticktide_backtest_worker.engine import ENGINE_VERSION
from ticktide_common.rules.system import SYSTEM_STRATEGIES
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOL = "RULUSDT"  # a pair of its own: the e2e tests share one database
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)
GRID = {"fast": "5:30:5", "slow": [20, 40, 60]}


def batch_body(strategy: Any, **extra: Any) -> dict[str, Any]:
    return {
        "symbols": [SYMBOL], "intervals": ["1h"], "start": START.isoformat(),
        "end": END.isoformat(), "strategy": strategy, "grid": GRID, "fee": 0.001,
        "slippage_bps": 5.0, "initial_cash": 10_000.0, **extra,
    }  # fmt: skip


async def results_of(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/crypto/backtest/batch", json=body)
    assert answer.status_code == 202, answer.text
    events = await asyncio.wait_for(_events_until_summary(client, answer.json()["events_url"]), 120)
    assert events[-1][0] == "summary"
    found = {
        json.dumps(data["params"], sort_keys=True): data["metrics"]
        for kind, data in events
        if kind == "result"
    }
    return {"batch_id": answer.json()["batch_id"], "results": found}


async def test_a_saved_strategy_runs_through_the_workers_as_its_built_in_twin(
    crypto_stack_with_workers: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    stack = crypto_stack_with_workers
    stack.binance.add_series(SYMBOL, "1h", START, END)
    async with httpx.AsyncClient(
        base_url=stack.api, timeout=60, headers=await admin_headers(db_pool)
    ) as client:
        await backfill_and_wait(client, SYMBOL, START, END)
        saved = await client.post(
            "/api/strategies",
            json={"name": "my sma cross", "document": SYSTEM_STRATEGIES["sma_cross"]},
        )
        assert saved.status_code == 201, saved.text
        reference = {"id": saved.json()["id"], "version": saved.json()["version"]}

        built_in = await results_of(client, batch_body("sma_cross"))
        language = await results_of(client, batch_body(reference))
        assert len(built_in["results"]) == 15  # 6 × 3, minus fast >= slow
        assert language["results"] == built_in["results"]

        refused = await client.post(
            "/api/crypto/backtest/batch", json=batch_body({"id": reference["id"], "version": 99})
        )
        assert refused.status_code == 422 and "version 99" in refused.text
        walk = batch_body(reference, walk_forward={"train_bars": 500, "test_bars": 200})
        refused = await client.post("/api/crypto/backtest/batch", json=walk)
        assert refused.status_code == 422
        # 100 candles cannot feed a 200-bar average: refused before any work.
        short = batch_body(
            reference, end=(START + timedelta(hours=100)).isoformat(),
            grid={"fast": [5, 10], "slow": [50, 200]},
        )  # fmt: skip
        refused = await client.post("/api/crypto/backtest/batch", json=short)
        assert refused.status_code == 422, refused.text
        message = refused.json()["detail"]
        assert "fast=5, slow=200 looks back 201 bars" in message, message
        assert f"{SYMBOL} 1h has only 100 candles" in message, message

    row = await db_pool.fetchrow(
        "SELECT strategy, strategy_id, strategy_version FROM backtests WHERE id = $1",
        language["batch_id"],
    )
    assert tuple(row) == ("my sma cross", reference["id"], reference["version"])
    versions = await db_pool.fetch(
        "SELECT DISTINCT engine_version FROM backtest_results WHERE batch_id = ANY($1::uuid[])",
        [language["batch_id"], built_in["batch_id"]],
    )
    assert [r["engine_version"] for r in versions] == [ENGINE_VERSION]

    # Another user may not run it (a private strategy is not even said to exist).
    stranger_id, _ = await create_test_user(db_pool)
    async with httpx.AsyncClient(
        base_url=stack.api,
        timeout=60,
        headers=bearer(await create_test_token(db_pool, stranger_id)),
    ) as stranger:
        answer = await stranger.post("/api/crypto/backtest/batch", json=batch_body(reference))
        assert answer.status_code == 422
