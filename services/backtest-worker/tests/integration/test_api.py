"""The backtest API's rules: validation up front (4xx naming what is wrong, no
batch stored), owner isolation, cancellation, one awaited backtest, strategies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import timedelta

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.testing.processes import wait_until

from .conftest import SERIES_START, SYMBOL, BacktestStack, batch_body, collect, read_events

pytestmark = pytest.mark.integration

BATCH = "/api/crypto/backtest/batch"


@pytest.mark.parametrize(
    ("overrides", "status", "says"),
    [
        ({"strategy": "moon_shot"}, 422, "unknown strategy 'moon_shot'"),
        ({"grid": {"fastest": [1]}}, 422, "no parameter 'fastest'"),
        ({"grid": {"fast": "1:2000:1", "slow": "2:2000:1"}}, 422, "more than"),
        ({"grid": {"fast": [50], "slow": [10]}}, 422, "no valid combination"),
        ({"grid": {"fast": []}}, 422, "fast"),
        ({"symbols": ["NOPEUSDT"]}, 404, "unknown symbol 'NOPEUSDT'"),
        ({"symbols": []}, 422, "symbols"),
        ({"intervals": ["4h"]}, 422, f"no candles stored in [{SERIES_START.isoformat()}"),
        ({"intervals": ["7m"]}, 422, "intervals"),
        ({"end": SERIES_START.isoformat()}, 422, "end must be after start"),
        ({"rank_by": "luck"}, 422, "body parameter 'rank_by'"),
        ({"walk_forward": {"train": 3}}, 422, "walk_forward"),
        ({"walk_forward": {"train_bars": 400, "test_bars": 10}}, 422, "leaves no test window"),
        ({"fee": -1}, 422, "fee"),
        ({"initial_cash": 0}, 422, "initial_cash"),
    ],
)
async def test_invalid_batches_are_4xx_with_a_reason_and_store_nothing(
    backtest_stack: BacktestStack,
    db_pool: asyncpg.Pool,
    overrides: dict[str, object],
    status: int,
    says: str,
) -> None:
    before = await db_pool.fetchval("SELECT count(*) FROM backtests")
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        answer = await client.post(
            BATCH, json=batch_body(**overrides), headers=backtest_stack.owner_headers
        )
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"], answer.text
    assert await db_pool.fetchval("SELECT count(*) FROM backtests") == before


async def test_anonymous_callers_get_401(backtest_stack: BacktestStack) -> None:
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        for method, path in [
            ("GET", "/api/crypto/backtest/strategies"),
            ("POST", BATCH),
            ("GET", f"{BATCH}/{uuid.uuid4()}/events"),
        ]:
            assert (await client.request(method, path, json={})).status_code == 401


async def test_other_users_get_404_and_cannot_cancel(backtest_stack: BacktestStack) -> None:
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        answer = await client.post(BATCH, json=batch_body(), headers=backtest_stack.owner_headers)
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["batch_id"]
        other = backtest_stack.other_headers
        for method, path in [
            ("GET", f"{BATCH}/{batch_id}"),
            ("GET", f"{BATCH}/{batch_id}/events"),
            ("DELETE", f"{BATCH}/{batch_id}"),
        ]:
            denied = await client.request(method, path, headers=other)
            assert denied.status_code == 404, (method, path, denied.text)
        events = await asyncio.wait_for(
            read_events(client, f"{BATCH}/{batch_id}/events", backtest_stack.owner_headers), 60
        )
        assert events[-1][1] == "summary"
        mine = await client.get(f"{BATCH}/{batch_id}", headers=backtest_stack.owner_headers)
    assert mine.status_code == 200
    body = mine.json()
    assert body["status"] == "done" and body["jobs"]["done"] == 4
    assert len(body["results"]) == 4
    assert {tuple(sorted(r["params"].items())) for r in body["results"]} == {
        (("fast", f), ("slow", s)) for f in (3, 5) for s in (20, 30)
    }


async def test_cancel_skips_the_remaining_jobs(
    backtest_stack: BacktestStack, db_pool: asyncpg.Pool
) -> None:
    grid = {"fast": "2:41:1", "slow": "50:74:1"}  # 40 × 25 = 1000 jobs
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        answer = await client.post(
            BATCH, json=batch_body(grid=grid), headers=backtest_stack.owner_headers
        )
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["batch_id"]
        cancelled = await client.delete(f"{BATCH}/{batch_id}", headers=backtest_stack.owner_headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        events = await asyncio.wait_for(
            read_events(client, f"{BATCH}/{batch_id}/events", backtest_stack.owner_headers), 90
        )
        status = await client.get(f"{BATCH}/{batch_id}", headers=backtest_stack.owner_headers)
    summary = events[-1][2]
    assert events[-1][1] == "summary" and summary["status"] == "cancelled"
    assert summary["jobs_skipped"] > 0
    assert summary["jobs_done"] + summary["jobs_skipped"] == 1000
    results = await db_pool.fetchval(
        "SELECT count(*) FROM backtest_results WHERE batch_id = $1", uuid.UUID(batch_id)
    )
    assert results == summary["jobs_done"] < 1000
    assert status.json()["status"] == "cancelled"
    assert status.json()["jobs"]["skipped"] == summary["jobs_skipped"]


async def test_run_answers_one_backtest_with_trades_and_equity(
    backtest_stack: BacktestStack,
) -> None:
    body = {
        "symbol": SYMBOL,
        "interval": "1h",
        "start": SERIES_START.isoformat(),
        "end": (SERIES_START + timedelta(days=30)).isoformat(),
        "strategy": "sma_cross",
        "params": {"fast": 5, "slow": 20},
        "fee": 0.001,
        "slippage_bps": 1,
        "initial_cash": 5000,
    }
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=120) as client:
        answer = await client.post(
            "/api/crypto/backtest/run", json=body, headers=backtest_stack.owner_headers
        )
        bad = await client.post(
            "/api/crypto/backtest/run",
            json={**body, "params": {"fast": 30, "slow": 20}},
            headers=backtest_stack.owner_headers,
        )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert set(result) == {"metrics", "trades", "equity"}
    assert result["metrics"]["trades"] == len(result["trades"]) > 0
    assert len(result["equity"]) > 0
    assert result["metrics"]["final_equity"] == pytest.approx(result["equity"][-1][1])
    assert bad.status_code == 422 and "no valid combination" in bad.json()["detail"]


async def test_strategies_list_parameters_as_json_schema(backtest_stack: BacktestStack) -> None:
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        answer = await client.get(
            "/api/crypto/backtest/strategies", headers=backtest_stack.owner_headers
        )
    assert answer.status_code == 200
    strategies = answer.json()
    assert {"buy_and_hold", "sma_cross", "macd", "donchian_breakout"} <= set(strategies)
    assert set(strategies["sma_cross"]["parameters"]["properties"]) == {"fast", "slow"}


async def test_api_health_counts_the_backtest_workers(backtest_stack: BacktestStack) -> None:
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        report = (await client.get("/api/health")).json()
    assert report["backtest_workers"]["consumers"] == len(backtest_stack.workers) == 2


async def test_stream_answers_the_new_batch_events_until_its_summary(
    backtest_stack: BacktestStack,
) -> None:
    async with (
        httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client,
        client.stream(
            "POST",
            "/api/crypto/backtest/stream",
            json=batch_body(grid={"fast": [3, 4, 5], "slow": "20:30:10"}),
            headers=backtest_stack.owner_headers,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await asyncio.wait_for(collect(response, None), 60)
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "queued" and kinds[-1] == "summary"
    assert kinds.count("result") == 6 and kinds.count("progress") == 6
    queued, summary = events[0][2], events[-1][2]
    assert queued["jobs"] == 6 and summary["results"] == 6
    progress = [data for _, kind, data in events if kind == "progress"]
    assert all(set(p) >= {"batch_id", "job_id", "done", "total", "eta_seconds"} for p in progress)


async def test_disconnected_sse_clients_leave_nothing_blocked_in_redis(
    backtest_stack: BacktestStack, redis_client: Redis
) -> None:
    """Eight clients (the per-user cap) that go away while the gateway waits in
    XREAD BLOCK for a batch with no new events: they shared ONE blocking read (the
    batch's reader, on the gateway's stream pool), and no Redis client stays
    blocked afterwards."""
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=30) as client:
        answer = await client.post(BATCH, json=batch_body(), headers=backtest_stack.owner_headers)
        events_url = answer.json()["events_url"]
        await asyncio.wait_for(
            read_events(client, events_url, backtest_stack.owner_headers), 60
        )  # the batch is over; reconnecting after its summary waits for nothing new
        summary_id = (await read_events(client, events_url, backtest_stack.owner_headers))[-1][0]

        gateway_name = f"ticktide-gateway-streams@{backtest_stack.env['TICKTIDE_REDIS_PREFIX']}"

        async def blocked() -> int:
            clients = await redis_client.client_list()
            return sum(
                1
                for c in clients
                if c.get("name") == gateway_name and "b" in str(c.get("flags", ""))
            )

        all_waiting = asyncio.Event()

        async def hold_and_drop() -> None:
            headers = {**backtest_stack.owner_headers, "Last-Event-ID": summary_id}
            async with client.stream("GET", events_url, headers=headers) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()  # kept: dropping it would close the stream
                assert (await lines.__anext__()).startswith(": batch")
                await all_waiting.wait()

        # The readers of the streams above stop within one block after them.
        await wait_until(lambda: _is_zero(blocked()), timeout=10, what="earlier readers gone")
        holders = [asyncio.create_task(hold_and_drop()) for _ in range(8)]
        await wait_until(
            lambda: _at_least(blocked(), 1), timeout=10, what="the batch's XREAD blocked"
        )
        await asyncio.sleep(0.5)  # all eight attached by now: still one read
        assert await blocked() == 1
        all_waiting.set()
        await asyncio.gather(*holders)
        await wait_until(
            lambda: _is_zero(blocked()), timeout=10, what="no blocked XREAD after disconnects"
        )


async def _is_zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def _at_least(count: Awaitable[int], wanted: int) -> bool:
    return await count >= wanted


async def test_drawdown_ranks_smallest_first(backtest_stack: BacktestStack) -> None:
    grid = {"fast": [2, 3, 5, 8], "slow": [20, 40]}
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        answer = await client.post(
            BATCH,
            json=batch_body(grid=grid, rank_by="max_drawdown"),
            headers=backtest_stack.owner_headers,
        )
        assert answer.status_code == 202, answer.text
        events = await asyncio.wait_for(
            read_events(client, answer.json()["events_url"], backtest_stack.owner_headers), 60
        )
        status = await client.get(
            f"{BATCH}/{answer.json()['batch_id']}", headers=backtest_stack.owner_headers
        )
    best = [b["metrics"]["max_drawdown"] for b in events[-1][2]["best"]]
    listed = [r["metrics"]["max_drawdown"] for r in status.json()["results"]]
    assert len(best) == len(listed) == 8 and len(set(listed)) > 1
    assert best == sorted(best) and listed == sorted(listed)


async def test_walk_forward_reports_out_of_sample_beside_in_sample(
    backtest_stack: BacktestStack,
) -> None:
    grid = {"fast": [3, 5, 8], "slow": [20, 30]}
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        answer = await client.post(
            BATCH,
            json=batch_body(grid=grid, walk_forward={"train_bars": 100, "test_bars": 60}),
            headers=backtest_stack.owner_headers,
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["jobs"] == 1  # one job per series: every window ranks the grid
        events = await asyncio.wait_for(
            read_events(client, answer.json()["events_url"], backtest_stack.owner_headers), 60
        )
    results = {data["params"]["walk_forward"]: data for _, kind, data in events if kind == "result"}
    assert set(results) == {"out_of_sample", "in_sample"}
    windows = results["out_of_sample"]["params"]["windows"]
    assert len(windows) == 5  # (400 - 100) / 60 test windows
    assert all(
        w["params"] in [{"fast": f, "slow": s} for f in (3, 5, 8) for s in (20, 30)]
        for w in windows
    )
    assert [w["test_start"] for w in windows] == sorted(w["test_start"] for w in windows)
    in_sample = results["in_sample"]["params"]
    assert {in_sample["fast"], in_sample["slow"]} <= {3, 5, 8, 20, 30}
    assert results["out_of_sample"]["metrics"]["final_equity"] > 0
