"""`ingest_lifecycle.scheduled_job_pending` on the real PostgreSQL: the one rule
by which the three schedulers leave a series alone. A scheduled job finished
within the period blocks; an unfinished one blocks only while it is younger than
the stale limit, so a job a crash left in 'running' no longer stalls the
scheduler for good (the stocks copy once counted it forever)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from ticktide_common.ingest_lifecycle import (
    SCHEDULED_JOB_STALE_SECONDS,
    IngestDomain,
    mark_job_running,
    scheduled_job_pending,
)
from ticktide_common.jobs import JobKind, create_job, mark_job_failed

pytestmark = pytest.mark.integration

PERIOD = 450.0


async def _job(
    pool: asyncpg.Pool,
    symbol: str,
    *,
    kind: JobKind = "scheduled",
    domain: IngestDomain = "stocks",
    interval: str = "1d",
) -> uuid.UUID:
    return await create_job(
        pool,
        kind=kind,
        symbol=symbol,
        interval=interval,
        start=None,
        end=None,
        requested_by="scheduler",
        domain=domain,
    )


async def _age(pool: asyncpg.Pool, job_id: uuid.UUID, seconds: float) -> None:
    """Make the job `seconds` older (created and, if finished, finished)."""
    await pool.execute(
        """UPDATE ingest_jobs SET created_at = created_at - make_interval(secs => $2),
                  finished_at = finished_at - make_interval(secs => $2)
           WHERE id = $1""",
        job_id,
        seconds,
    )


async def _pending(pool: asyncpg.Pool, symbol: str, **overrides: object) -> bool:
    args: dict[str, object] = {
        "domain": "stocks",
        "symbol": symbol,
        "interval": "1d",
        "period_seconds": PERIOD,
    }
    return await scheduled_job_pending(pool, **{**args, **overrides})  # type: ignore[arg-type]


def _symbol() -> str:
    return f"S{uuid.uuid4().hex[:8].upper()}"


async def test_an_unfinished_job_older_than_the_stale_limit_no_longer_blocks(
    db_pool: asyncpg.Pool,
) -> None:
    symbol = _symbol()
    job_id = await _job(db_pool, symbol)
    assert await mark_job_running(db_pool, job_id)  # then its ingester crashed
    assert await _pending(db_pool, symbol), "a young unfinished job blocks"
    await _age(db_pool, job_id, SCHEDULED_JOB_STALE_SECONDS - 60)
    assert await _pending(db_pool, symbol), "still younger than the stale limit"
    await _age(db_pool, job_id, 120)
    assert not await _pending(db_pool, symbol), "stuck in 'running' past the stale limit"
    assert await _pending(db_pool, symbol, stale_seconds=SCHEDULED_JOB_STALE_SECONDS * 2)


async def test_a_finished_job_blocks_for_the_period_only(db_pool: asyncpg.Pool) -> None:
    symbol = _symbol()
    assert not await _pending(db_pool, symbol), "no job yet"
    job_id = await _job(db_pool, symbol)
    await mark_job_failed(db_pool, job_id, "provider down")
    assert await _pending(db_pool, symbol), "finished just now"
    await _age(db_pool, job_id, PERIOD - 30)
    assert await _pending(db_pool, symbol)
    await _age(db_pool, job_id, 60)
    assert not await _pending(db_pool, symbol), "finished longer ago than the period"


async def test_only_scheduled_jobs_of_the_same_series_count(db_pool: asyncpg.Pool) -> None:
    symbol = _symbol()
    await _job(db_pool, symbol, kind="backfill")
    assert not await _pending(db_pool, symbol), "a user's backfill is not a scheduled job"
    await _job(db_pool, symbol, domain="crypto", interval="1h")
    assert not await _pending(db_pool, symbol), "another domain's series"
    assert not await _pending(db_pool, symbol, domain="crypto", interval="4h")
    assert await _pending(db_pool, symbol, domain="crypto", interval="1h")
