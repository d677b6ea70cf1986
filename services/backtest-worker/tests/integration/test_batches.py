"""Batches through the real gateway, broker, database, Redis and two worker
processes: every result exactly once though a worker is killed mid-batch, SSE
resumption with Last-Event-ID, a poison job reported as an error."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.messages import BacktestJobV1
from ticktide_common.testing.processes import ServiceProcess, wait_until
from ticktide_common.topology import Topology

from .conftest import SERIES_START, SYMBOL, BacktestStack, batch_body, read_events

pytestmark = pytest.mark.integration


async def test_200_jobs_over_two_workers_survive_a_kill_9(
    backtest_stack: BacktestStack, db_pool: asyncpg.Pool, log_dir: Path
) -> None:
    grid = {"fast": "2:21:1", "slow": "30:48:2"}  # 20 × 10 = 200 combinations, 200 jobs
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        answer = await client.post(
            "/api/crypto/backtest/batch",
            json=batch_body(grid=grid),
            headers=backtest_stack.owner_headers,
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["jobs"] == 200
        batch_id = uuid.UUID(body["batch_id"])
        assert body["events_url"] == f"/api/crypto/backtest/batch/{batch_id}/events"

        async def some_done() -> bool:
            done = await db_pool.fetchval(
                "SELECT count(*) FROM backtest_jobs WHERE batch_id = $1", batch_id
            )
            return bool(done >= 10)

        await wait_until(some_done, timeout=60, interval=0.01, what="10 jobs done")
        victim = backtest_stack.workers[0]
        victim.kill()  # SIGKILL: its unacked jobs go back to the queue
        assert "backtest.job_done" in victim.log_tail(400), "the killed worker had run no job"
        done_at_kill = await db_pool.fetchval(
            "SELECT count(*) FROM backtest_jobs WHERE batch_id = $1", batch_id
        )
        assert done_at_kill < 200, "the batch was over before the kill; nothing was tested"
        backtest_stack.workers.remove(victim)

        events = await asyncio.wait_for(
            read_events(client, body["events_url"], backtest_stack.owner_headers), 90
        )
        kinds = [kind for _, kind, _ in events]
        assert kinds[0] == "queued" and kinds[-1] == "summary"
        assert kinds.count("result") == 200
        assert kinds.count("progress") == 200
        progress_done = [data["done"] for _, kind, data in events if kind == "progress"]
        assert sorted(progress_done) == list(range(1, 201))
        summary = events[-1][2]
        assert summary["jobs_done"] == 200 and summary["results"] == 200
        assert summary["jobs_failed"] == 0 and summary["status"] == "done"
        best = summary["best"]
        assert isinstance(best, list) and best
        sharpes = [b["metrics"]["sharpe"] for b in best if b["metrics"]["sharpe"] is not None]
        assert sharpes == sorted(sharpes, reverse=True)

    rows = await db_pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (job_id, params)) AS distinct_n, "
        "count(DISTINCT job_id) AS jobs FROM backtest_results WHERE batch_id = $1",
        batch_id,
    )
    assert (rows["n"], rows["distinct_n"], rows["jobs"]) == (200, 200, 200)
    status = await db_pool.fetchval("SELECT status FROM backtests WHERE id = $1", batch_id)
    assert status == "done"
    await backtest_stack.start_worker(log_dir)  # back to two for the next tests


async def test_sse_resumes_after_last_event_id_without_duplicates(
    backtest_stack: BacktestStack,
) -> None:
    grid = {"fast": "2:9:1", "slow": [30, 40, 50, 60, 70]}  # 40 jobs: 82 events
    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        answer = await client.post(
            "/api/crypto/backtest/batch",
            json=batch_body(grid=grid),
            headers=backtest_stack.owner_headers,
        )
        assert answer.status_code == 202, answer.text
        url = answer.json()["events_url"]
        first = await read_events(client, url, backtest_stack.owner_headers, limit=50)
        assert len(first) == 50
        rest = await asyncio.wait_for(
            read_events(client, url, backtest_stack.owner_headers, last_event_id=first[-1][0]),
            60,
        )
        everything = await read_events(client, url, backtest_stack.owner_headers)

    ids = [event_id for event_id, _, _ in first + rest]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert ids == [event_id for event_id, _, _ in everything], "events lost or reordered"
    assert len(everything) == 1 + 40 + 40 + 1
    assert rest[-1][1] == "summary"


async def test_poison_job_is_reported_as_error_and_the_batch_still_ends(
    backtest_stack: BacktestStack, db_pool: asyncpg.Pool
) -> None:
    """A job that cannot run (its strategy does not exist) fails permanently at its
    first delivery: recorded failed with the reason, one `error`, dead-lettered
    (never redelivered), and the batch's summary still arrives."""
    batch_id = uuid.uuid4()
    await db_pool.execute(
        "INSERT INTO backtests (id, user_id, request, strategy, total_jobs, total_backtests) "
        "VALUES ($1, $2, '{}', 'sma_cross', 2, 2)",
        batch_id,
        backtest_stack.owner_id,
    )
    env = backtest_stack.env
    topology = Topology(prefix=env["TICKTIDE_BUS_PREFIX"])
    bus = await Bus.connect(env["AMQP_URL"], topology, service="tests")
    common = {
        "batch_id": batch_id,
        "total_jobs": 2,
        "symbol": SYMBOL,
        "interval": "1h",
        "start": SERIES_START,
        "end": SERIES_START.replace(year=2025),
        "fee": 0.001,
        "slippage_bps": 0.0,
        "initial_cash": 1000.0,
    }
    try:
        # Valid as a message, but no worker can run it: it raises on every delivery.
        await bus.publish(
            BacktestJobV1(job_id=0, strategy="no_such_strategy", param_sets=[{"x": 1}], **common)
        )
        await bus.publish(
            BacktestJobV1(
                job_id=1, strategy="sma_cross", param_sets=[{"fast": 5, "slow": 20}], **common
            )
        )
    finally:
        await bus.close()

    async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
        events = await asyncio.wait_for(
            read_events(
                client,
                f"/api/crypto/backtest/batch/{batch_id}/events",
                backtest_stack.owner_headers,
            ),
            90,
        )
        status = await client.get(
            f"/api/crypto/backtest/batch/{batch_id}", headers=backtest_stack.owner_headers
        )
    kinds = [kind for _, kind, _ in events]
    assert kinds.count("error") == 1 and kinds.count("result") == 1
    assert kinds[-1] == "summary"
    error = next(data for _, kind, data in events if kind == "error")
    assert error["job_id"] == 0 and "unknown strategy 'no_such_strategy'" in str(error["error"])
    summary = events[-1][2]
    assert (summary["jobs_done"], summary["jobs_failed"]) == (1, 1)
    assert status.status_code == 200
    assert status.json()["errors"][0]["job_id"] == 0


async def test_a_worker_dying_between_commit_and_events_announces_each_job_once(
    backtest_stack: BacktestStack, db_pool: asyncpg.Pool, log_dir: Path
) -> None:
    """A third worker ends itself (os._exit) right after committing its first job,
    before appending that job's events and before the ack: the redelivered job is
    recognised as stored and announced by another worker, once."""
    env = {**backtest_stack.worker_env(), "TICKTIDE_FAULT_EXIT_AFTER_COMMIT": "1"}
    crashing = ServiceProcess(
        "ticktide_backtest_worker",
        env,
        int(env["BACKTEST_WORKER_PORT"]),
        log_dir,
        name="backtest-worker-crashing",
    )
    await crashing.start(timeout=60)
    try:
        async with httpx.AsyncClient(base_url=backtest_stack.api, timeout=60) as client:
            answer = await client.post(
                "/api/crypto/backtest/batch",
                json=batch_body(grid={"fast": "2:31:1", "slow": [40]}),  # 30 jobs
                headers=backtest_stack.owner_headers,
            )
            assert answer.status_code == 202, answer.text
            events = await asyncio.wait_for(
                read_events(client, answer.json()["events_url"], backtest_stack.owner_headers),
                90,
            )
        assert crashing.process is not None
        assert crashing.process.wait(10) == 137, "the crashing worker never took a job"
    finally:
        crashing.stop()
    results = [data["job_id"] for _, kind, data in events if kind == "result"]
    assert sorted(results) == list(range(30))
    progress = [data["done"] for _, kind, data in events if kind == "progress"]
    assert sorted(progress) == list(range(1, 31))
    assert events[-1][2]["results"] == 30
    stored = await db_pool.fetchval(
        "SELECT count(*) FROM backtest_results WHERE batch_id = $1",
        uuid.UUID(events[0][2]["batch_id"]),
    )
    assert stored == 30
