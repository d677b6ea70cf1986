"""Archive-import jobs as a whole run sees them: the job of one upload created
in one statement together with the per-user bound on imports not yet stored
(`create_import_job`: its batches are known before any is published; None when
the bound is reached, which ingest-crypto answers with 429), the progress of
many jobs in one query (the CLI follows hundreds of uploads at once), and the
close of one import in one statement (`finish_import`: the finalize claim, done,
and the count of the series' other imports still unfinished, on which the
"last import of a series detects its gaps" rule of ingest-crypto turns)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_common.ingest_lifecycle import ready_to_finalize
from ticktide_common.jobs import JobProgress

__all__ = [
    "MAX_UNFINISHED_IMPORTS",
    "MAX_JOBS_PER_QUERY",
    "create_import_job",
    "finish_import",
    "jobs_progress",
    "unfinished_imports",
]

# Imports of one user whose candles are not all committed yet. The CLI keeps at
# most a few dozen in flight; a bound far above that stops a runaway client
# from filling the broker, not a fast one.
MAX_UNFINISHED_IMPORTS = 512
MAX_JOBS_PER_QUERY = 1000

# Archive imports of the user `{user}` (a parameter) neither done nor failed
# whose batches are not all stored yet. The partial index
# ingest_jobs_unfinished_imports (0015) holds just the unfinished imports.
_UNFINISHED_OF = """
SELECT count(*) FROM ingest_jobs u
WHERE u.kind = 'archive-import' AND u.requested_by = {user}
  AND u.status NOT IN ('done', 'failed')
  AND (u.batches_expected IS NULL
       OR (SELECT count(*) FROM ingest_batches b WHERE b.job_id = u.id) < u.batches_expected)
"""

_UNFINISHED_IMPORTS = _UNFINISHED_OF.format(user="$1")

# Created 'fetched' with its counts: an upload knows its batches before it
# publishes them (the finalizer waits until that many are stored; a publish that
# fails marks the job failed). Nothing is inserted when `requested_by` already
# has $10 unfinished imports: the bound and the insert are one statement.
_INSERT_IMPORT_JOB = f"""
INSERT INTO ingest_jobs (id, kind, domain, symbol, interval_type, range_start, range_end,
                         requested_by, status, batches_expected, candles_expected, source)
SELECT $1::uuid, 'archive-import', 'crypto', $2::text, $3::text, $4::timestamptz,
       $5::timestamptz, $6::text, 'fetched', $7::int, $8::int, $9::text
WHERE ({_UNFINISHED_OF.format(user="$6")}) < $10::int
RETURNING id
"""  # noqa: S608 - constant fragments

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

# The other archive imports of the series (symbol $2, interval $3) neither done
# nor failed, created within $4 seconds, counted by the statement that closes
# the import $1 (a CTE's query sees the rows as they were before its UPDATE).
_OTHERS_UNFINISHED = """
SELECT (SELECT count(*) FROM ingest_jobs o
        WHERE o.domain = 'crypto' AND o.kind = 'archive-import'
          AND o.symbol = $2 AND o.interval_type = $3 AND o.id <> f.id
          AND o.status NOT IN ('done', 'failed')
          AND o.created_at > now() - make_interval(secs => $4)) AS others
FROM finished f
"""

# Done straight from 'fetched' (or a stale claim) once every batch is stored:
# the claim and the close in one statement.
_CLAIM_AND_FINISH_IMPORT = f"""
WITH finished AS (
    UPDATE ingest_jobs j SET status = 'done', updated_at = now(), finished_at = now()
    WHERE j.id = $1 AND j.kind = 'archive-import' AND j.symbol = $2 AND j.interval_type = $3
      AND {ready_to_finalize("$5")}
    RETURNING j.id
)
{_OTHERS_UNFINISHED}"""  # noqa: S608 - constant fragments

# Done from the caller's own claim ('finalizing', taken by the JobCompleter).
_FINISH_CLAIMED_IMPORT = f"""
WITH finished AS (
    UPDATE ingest_jobs j SET status = 'done', updated_at = now(), finished_at = now()
    WHERE j.id = $1 AND j.kind = 'archive-import' AND j.symbol = $2 AND j.interval_type = $3
      AND j.status = 'finalizing'
    RETURNING j.id
)
{_OTHERS_UNFINISHED}"""  # noqa: S608 - constant fragments


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
    bound: int = MAX_UNFINISHED_IMPORTS,
) -> uuid.UUID | None:
    """One archive upload's job, already `fetched` with its batch and candle
    counts, unless `requested_by` has `bound` imports not yet stored (None, and
    nothing inserted). One statement: the bound's count and the insert.

    As with any check of a count under READ COMMITTED, uploads of one user
    inserting at the same instant do not see each other's rows: the bound is
    exact for uploads one after the other, and concurrent ones may pass it by
    fewer than their number (as when the count was a statement of its own)."""
    job_id = uuid.uuid4()
    inserted = await pool.fetchval(
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
        bound,
    )
    return job_id if inserted is not None else None


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


async def finish_import(
    conn: asyncpg.Connection | PoolConnectionProxy,
    job_id: uuid.UUID,
    *,
    symbol: str,
    interval: str,
    claimed: bool,
    stale_seconds: float,
    pending_stale_seconds: float,
) -> int | None:
    """Mark the archive import `job_id` of the series (`symbol`, `interval`) done
    inside the caller's transaction, and count the series' other imports neither
    done nor failed (created within `pending_stale_seconds`); None when nothing
    was marked. `claimed`: the caller holds the job's finalize claim
    ('finalizing'); otherwise the job must be ready to claim
    (`ingest_lifecycle.ready_to_finalize` with `stale_seconds`), and the claim
    and the close are this one statement: the caller's commit makes the job
    done, a rollback leaves it as it was. The caller serialises the series'
    closes (a lock taken before this statement, so that its count sees every
    close committed before)."""
    if claimed:
        value = await conn.fetchval(
            _FINISH_CLAIMED_IMPORT, job_id, symbol, interval, pending_stale_seconds
        )
    else:
        value = await conn.fetchval(
            _CLAIM_AND_FINISH_IMPORT, job_id, symbol, interval, pending_stale_seconds, stale_seconds
        )
    return int(value) if value is not None else None
