"""`ticktide backtest submit --follow` and `ticktide backtest show` as a user runs
them, through the API with their own token: the batch (theirs) is queued to two
real workers, followed to its summary from the event stream, and ranked; bad
input fails with the server's reason."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait
from ticktide_common.testing.users import create_test_token, create_test_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOL = "CLIBTUSDT"
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)


async def _ticktide(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        *args,
        env={**os.environ, **env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 180)
    return process.returncode or 0, output.decode()


async def test_submit_follow_and_show(
    crypto_stack_with_workers: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    stack = crypto_stack_with_workers
    stack.binance.add_series(SYMBOL, "1h", START, END)
    async with httpx.AsyncClient(
        base_url=stack.api, timeout=60, headers=await admin_headers(db_pool)
    ) as client:
        await backfill_and_wait(client, SYMBOL, START, END)

    # A plain user's batch: the CLI submits as the token's owner.
    user_id, _ = await create_test_user(db_pool)
    env = {
        **stack.env,
        "TICKTIDE_URL": stack.api,
        "TICKTIDE_TOKEN": await create_test_token(db_pool, user_id),
    }
    window = ["--start", START.isoformat(), "--end", END.isoformat()]
    code, output = await _ticktide(
        env,
        "backtest",
        "submit",
        "--symbol",
        SYMBOL,
        "--interval",
        "1h",
        *window,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5:20:5",
        "--grid",
        "slow=30,50",
        "--follow",
        "--top",
        "3",
    )
    assert code == 0, output
    batch_id = re.search(r"batch ([0-9a-f-]{36}): 8 backtests", output)
    assert batch_id, output
    assert "done: 8 results, 0 failed jobs" in output, output
    assert "best by sharpe" in output and output.count(SYMBOL) >= 3, output

    stored_results = await db_pool.fetchval(
        "SELECT count(*) FROM backtest_results WHERE batch_id = $1", batch_id.group(1)
    )
    assert stored_results == 8
    owner = await db_pool.fetchval("SELECT user_id FROM backtests WHERE id = $1", batch_id.group(1))
    assert owner == user_id

    code, shown = await _ticktide(env, "backtest", "show", batch_id.group(1))
    assert code == 0, shown
    assert "done" in shown and shown.count(SYMBOL) == 8, shown

    code, refused = await _ticktide(
        env,
        "backtest",
        "submit",
        "--symbol",
        SYMBOL,
        *window,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=50",
        "--grid",
        "slow=20",
    )
    assert code == 1 and "error:" in refused, refused
