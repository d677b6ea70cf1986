"""Archive-import jobs as a whole run sees them: the job of one upload created
in one statement (`create_import_job`: its batches are known before any is
published), the progress of many jobs in one query (the CLI follows hundreds of
uploads at once), and the per-user bound on imports not yet stored
(ingest-crypto refuses more with 429)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from ticktide_common.jobs import JobProgress

__all__ = [
    "MAX_UNFINISHED_IMPORTS",
    "MAX_JOBS_PER_QUERY",
    "create_import_job",
    "jobs_progress",
    "unfinished_imports",
]

# Imports of one user whose candles are not all committed yet. The CLI keeps at
# most a few dozen in flight; a bound far above that stops a runaway client
# from filling the broker, not a fast one.
MAX_UNFINISHED_IMPORTS = 512
MAX_JOBS_PER_QUERY = 1000

# Created 'fetched' with its counts: an upload knows its batches before it
# publishes them (the finalizer waits until that many are stored; a publish that
# fails marks the job failed).
_INSERT_IMPORT_JOB = """
INSERT INTO ingest_jobs (id, kind, domain, symbol, interval_type, range_start, range_end,
                         requested_by, status, batches_expected, candles_expected, source)
VALUES ($1, 'archive-import', 'crypto', $2, $3, $4, $5, $6, 'fetched', $7, $8, $9)
"""

_JOBS_PROGRESS = """
SELECT j.id, j.kind, j.symbol, j.interval_type, j.range_start, j.range_end, j.status,
       j.batches_expected, j.candles_expected, j.error, j.created_at, j.finished_at,
       coalesce(b.batches, 0) AS batches_stored, coalesce(b.candles, 0) AS candles_stored
FROM ingest_jobs j
LEFT JOIN LATERAL (
    SELECT count(*) AS batches, sum(candles) AS candles
    FROM ingest_batches WHERE job_id = j.id
) b ON true
WHERE j.id = ANY($1::uuid[])
"""

_UNFINISHED_IMPORTS = """
SELECT count(*) FROM ingest_jobs j
WHERE j.kind = 'archive-import' AND j.requested_by = $1
  AND j.status NOT IN ('done', 'failed')
  AND (j.batches_expected IS NULL
       OR (SELECT count(*) FROM ingest_batches b WHERE b.job_id = j.id) < j.batches_expected)
"""


async def create_import_job(
    pool: asyncpg.Pool,
    *,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    requested_by: str,
    batches: int,
    candles: int,
    source: str,
) -> uuid.UUID:
    """One archive upload's job, already `fetched` with its batch and candle
    counts (one statement per upload instead of create, then mark fetched)."""
    job_id = uuid.uuid4()
    await pool.execute(
        _INSERT_IMPORT_JOB,
        job_id,
        symbol,
        interval,
        start,
        end,
        requested_by,
        batches,
        candles,
        source,
    )
    return job_id


async def jobs_progress(pool: asyncpg.Pool, job_ids: Sequence[uuid.UUID]) -> list[JobProgress]:
    """The progress of each known job of `job_ids` (unknown ids are left out)."""
    rows = await pool.fetch(_JOBS_PROGRESS, list(job_ids))
    return [
        JobProgress(
            id=row["id"],
            kind=row["kind"],
            symbol=row["symbol"],
            interval=row["interval_type"],
            start=row["range_start"],
            end=row["range_end"],
            status=row["status"],
            batches_expected=row["batches_expected"],
            candles_expected=row["candles_expected"],
            batches_stored=int(row["batches_stored"]),
            candles_stored=int(row["candles_stored"] or 0),
            error=row["error"],
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )
        for row in rows
    ]


async def unfinished_imports(pool: asyncpg.Pool, requested_by: str) -> int:
    """How many archive imports of `requested_by` are not yet stored nor failed."""
    return int(await pool.fetchval(_UNFINISHED_IMPORTS, requested_by))
