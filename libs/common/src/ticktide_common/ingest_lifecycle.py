"""The life of an ingest job as every ingester runs it (crypto, stocks, weather).

`run_ingest_job` handles one backfill command: a done or failed job is skipped, a
fetched one is only finalized; otherwise the job is marked running, `fetch`
publishes its batches (each with a deterministic id), the job becomes `fetched`
with the number of batches, and finalizing is attempted. A failing fetch is
retried by redelivery until `max_attempts`, then the job is `failed` with the
reason; a `PermanentError` fails it at once.

`JobCompleter` closes a job once the writer stored every batch: an atomic claim
(`fetched` → `finalizing`), the domain's own completion step (`on_complete`:
gap detection and refill requests, say), then `done`. It runs on each stored
event, right after `fetched`, and in a periodic sweep limited to its domain, so
no ordering of events leaves a job unfinished and no ingester finalizes
another's jobs. The claim's rule is `ready_to_finalize`, which a domain's
one-transaction close shares (`import_jobs.finish_import`: an archive import's
claim and done in one statement).

`scheduled_job_pending` is the one rule by which a scheduler decides that a
series needs no new scheduled job (see its docstring); `run_exclusively` keeps
a scheduler's tick to one replica at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import asyncpg

from ticktide_common.db import advisory_unlock, try_advisory_lock
from ticktide_common.errors import PermanentError
from ticktide_common.jobs import mark_job_failed, mark_job_fetched
from ticktide_common.logging import get_logger

__all__ = [
    "IngestDomain",
    "JobRow",
    "FetchResult",
    "JobCompleter",
    "BackfillCommand",
    "commanded_job",
    "run_ingest_job",
    "get_job",
    "ensure_job",
    "mark_job_running",
    "record_fetch_attempt",
    "claim_job_for_finalize",
    "ready_to_finalize",
    "release_finalize_claim",
    "mark_job_done",
    "unfinished_fetched_jobs",
    "SCHEDULED_JOB_STALE_SECONDS",
    "scheduled_job_pending",
    "run_exclusively",
    "GapTable",
    "claim_gap_attempt",
]

IngestDomain = Literal["crypto", "stocks", "weather"]
log = get_logger(__name__)

# Named as `JobRow`'s fields, so that a row becomes one by keyword.
_JOB_COLUMNS = """id, kind, domain, symbol, interval_type AS interval, range_start AS start,
                  range_end AS "end", status, batches_expected"""


@dataclass(frozen=True)
class JobRow:
    id: uuid.UUID
    kind: str
    domain: str
    symbol: str  # a crypto pair, a stock symbol or a weather location
    interval: str
    start: datetime | None
    end: datetime | None
    status: str
    batches_expected: int | None


@dataclass(frozen=True)
class FetchResult:
    """What a fetch published: the batches the writer must store, the items in
    them (candles, bars, observations), and their source."""

    batches: int
    items: int
    source: str


def _job(row: asyncpg.Record) -> JobRow:
    return JobRow(**dict(row.items()))


async def get_job(pool: asyncpg.Pool, job_id: uuid.UUID) -> JobRow | None:
    query = f"SELECT {_JOB_COLUMNS} FROM ingest_jobs WHERE id = $1"  # noqa: S608 - constant
    row = await pool.fetchrow(query, job_id)
    return _job(row) if row else None


async def ensure_job(
    pool: asyncpg.Pool,
    job_id: uuid.UUID,
    *,
    domain: IngestDomain,
    kind: str,
    symbol: str,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    requested_by: str,
) -> None:
    """Create the job row of a command that arrived without one (idempotent)."""
    await pool.execute(
        """INSERT INTO ingest_jobs (id, domain, kind, symbol, interval_type, range_start,
                                    range_end, requested_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING""",
        job_id,
        domain,
        kind,
        symbol,
        interval,
        start,
        end,
        requested_by,
    )


async def mark_job_running(pool: asyncpg.Pool, job_id: uuid.UUID) -> bool:
    status = await pool.fetchval(
        """UPDATE ingest_jobs SET status = 'running', updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'running') RETURNING status""",
        job_id,
    )
    return status is not None


async def record_fetch_attempt(pool: asyncpg.Pool, job_id: uuid.UUID) -> int:
    """Count one failed fetch of a job; returns the count so far."""
    value = await pool.fetchval(
        """UPDATE ingest_jobs SET fetch_attempts = fetch_attempts + 1, updated_at = now()
           WHERE id = $1 RETURNING fetch_attempts""",
        job_id,
    )
    return int(value or 0)


def ready_to_finalize(stale_seconds_param: str) -> str:
    """The SQL condition, over the job row aliased `j`, under which a job may be
    claimed for finalizing: `fetched` (or a claim older than the stale seconds,
    the query's parameter `stale_seconds_param`, e.g. "$2") with every expected
    batch stored. The one rule of every claim (`claim_job_for_finalize`, and
    `import_jobs.finish_import`, which claims and closes in one statement)."""
    return f"""(j.status = 'fetched'
                OR (j.status = 'finalizing'
                    AND j.updated_at < now() - make_interval(secs => {stale_seconds_param})))
               AND (SELECT count(*) FROM ingest_batches b WHERE b.job_id = j.id)
                   >= coalesce(j.batches_expected, 0)"""  # noqa: S608 - a placeholder


_CLAIM_JOB_FOR_FINALIZE = f"""
UPDATE ingest_jobs j SET status = 'finalizing', updated_at = now()
WHERE j.id = $1 AND {ready_to_finalize("$2")}
RETURNING {_JOB_COLUMNS}"""  # noqa: S608 - constant fragments


async def claim_job_for_finalize(
    pool: asyncpg.Pool, job_id: uuid.UUID, stale_seconds: float
) -> JobRow | None:
    """Atomically move a job whose every expected batch is stored to 'finalizing'
    (or retake a claim older than `stale_seconds`); None if not ready or taken."""
    row = await pool.fetchrow(_CLAIM_JOB_FOR_FINALIZE, job_id, stale_seconds)
    return _job(row) if row else None


async def release_finalize_claim(pool: asyncpg.Pool, job_id: uuid.UUID) -> None:
    await pool.execute(
        """UPDATE ingest_jobs SET status = 'fetched', updated_at = now()
                          WHERE id = $1 AND status = 'finalizing'""",
        job_id,
    )


async def mark_job_done(pool: asyncpg.Pool, job_id: uuid.UUID) -> None:
    await pool.execute(
        """UPDATE ingest_jobs SET status = 'done', updated_at = now(), finished_at = now()
           WHERE id = $1 AND status = 'finalizing'""",
        job_id,
    )


async def unfinished_fetched_jobs(
    pool: asyncpg.Pool, domain: IngestDomain, stale_seconds: float, limit: int = 100
) -> list[uuid.UUID]:
    """Jobs of `domain` that may be ready to finalize (for the sweep)."""
    rows = await pool.fetch(
        """SELECT id FROM ingest_jobs
           WHERE domain = $1
             AND (status = 'fetched'
                  OR (status = 'finalizing' AND updated_at < now() - make_interval(secs => $2)))
           ORDER BY updated_at LIMIT $3""",
        domain,
        stale_seconds,
        limit,
    )
    return [row["id"] for row in rows]


class JobCompleter:
    """Finalizes the jobs of one domain once all their batches are stored."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        domain: IngestDomain,
        stale_seconds: float,
        on_complete: Callable[[JobRow], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self.domain = domain
        self.stale_seconds = stale_seconds
        self.on_complete = on_complete

    async def try_finalize(self, job_id: uuid.UUID) -> bool:
        """Finalize `job_id` if it is fetched and fully stored; False otherwise."""
        job = await claim_job_for_finalize(self.pool, job_id, self.stale_seconds)
        if job is None:
            return False
        try:
            if self.on_complete is not None:
                await self.on_complete(job)
            await mark_job_done(self.pool, job_id)
        except Exception:
            await release_finalize_claim(self.pool, job_id)
            raise
        log.info("ingest.job_done", job_id=str(job_id), domain=job.domain, kind=job.kind)
        return True

    async def sweep(self) -> int:
        """Try every fetched (or stale finalizing) job of the domain."""
        finished = 0
        for job_id in await unfinished_fetched_jobs(self.pool, self.domain, self.stale_seconds):
            finished += await self.try_finalize(job_id)
        return finished


class BackfillCommand(Protocol):
    """What every domain's backfill command carries besides its series."""

    @property
    def job_id(self) -> uuid.UUID: ...

    @property
    def requested_by(self) -> str: ...


def commanded_job(
    command: BackfillCommand,
    domain: IngestDomain,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
) -> JobRow:
    """The job row a backfill command describes (not stored yet: 'queued'); a
    command of the gap refiller (`requested_by` 'gap-refill') is a gap refill."""
    kind = "gap-refill" if command.requested_by == "gap-refill" else "backfill"
    return JobRow(command.job_id, kind, domain, symbol, interval, start, end, "queued", None)


async def run_ingest_job(
    pool: asyncpg.Pool,
    job: JobRow,
    fetch: Callable[[JobRow], Awaitable[FetchResult]],
    completer: JobCompleter,
    max_attempts: int,
    requested_by: str = "system",
) -> None:
    """Run one backfill command's job (see the module docstring). `job` is the row
    as the command describes it; it is created when it does not exist yet.
    `fetch` gets the job as stored (its kind is the row's, e.g. 'gap-refill')."""
    stored = await get_job(pool, job.id)
    if stored is None:
        await ensure_job(
            pool,
            job.id,
            domain=completer.domain,
            kind=job.kind,
            symbol=job.symbol,
            interval=job.interval,
            start=job.start,
            end=job.end,
            requested_by=requested_by,
        )
    elif stored.status in ("done", "failed"):
        log.info("ingest.job_skipped", job_id=str(job.id), status=stored.status)
        return
    elif stored.status in ("fetched", "finalizing"):
        await completer.try_finalize(job.id)
        return
    await mark_job_running(pool, job.id)
    try:
        result = await fetch(stored or job)
    except PermanentError as exc:
        await mark_job_failed(pool, job.id, str(exc))
        log.error("ingest.job_failed", job_id=str(job.id), error=str(exc))
        return
    except Exception as exc:
        attempts = await record_fetch_attempt(pool, job.id)
        if attempts >= max_attempts:
            reason = f"gave up after {attempts} attempts: {exc}"
            await mark_job_failed(pool, job.id, reason)
            log.error("ingest.job_failed", job_id=str(job.id), error=reason)
            return
        log.warning("ingest.fetch_failed", job_id=str(job.id), attempt=attempts, error=str(exc))
        raise
    await mark_job_fetched(
        pool, job.id, batches=result.batches, candles=result.items, source=result.source
    )
    log.info(
        "ingest.job_fetched",
        job_id=str(job.id),
        domain=completer.domain,
        batches=result.batches,
        items=result.items,
        source=result.source,
    )
    await completer.try_finalize(job.id)


# An unfinished scheduled job older than this no longer counts (a crash left it).
SCHEDULED_JOB_STALE_SECONDS = 3600.0


async def scheduled_job_pending(
    pool: asyncpg.Pool,
    *,
    domain: IngestDomain,
    symbol: str,
    interval: str,
    period_seconds: float,
    stale_seconds: float = SCHEDULED_JOB_STALE_SECONDS,
) -> bool:
    """Whether the scheduler should leave this series alone for now: a scheduled
    job of this series (domain, symbol, interval) finished (done or failed) within
    the last `period_seconds`, or an unfinished one was created within the last
    `stale_seconds`. So replicas and slow runs do not pile up jobs, and a job
    stuck unfinished (its ingester crashed mid-fetch) blocks the series for
    `stale_seconds` at most, never for good."""
    value = await pool.fetchval(
        """SELECT EXISTS (
               SELECT 1 FROM ingest_jobs
               WHERE domain = $1 AND kind = 'scheduled' AND symbol = $2 AND interval_type = $3
                 AND CASE WHEN status IN ('done', 'failed')
                          THEN finished_at > now() - make_interval(secs => $4)
                          ELSE created_at > now() - make_interval(secs => $5) END)""",
        domain,
        symbol,
        interval,
        period_seconds,
        stale_seconds,
    )
    return bool(value)


async def run_exclusively(
    pool: asyncpg.Pool, lock_key: int, *steps: Callable[[], Awaitable[list[uuid.UUID]]]
) -> list[uuid.UUID]:
    """Each of `steps` in turn under the session advisory lock `lock_key`, so that
    one replica at a time runs a scheduler's tick; the jobs they requested, or
    [] at once when another replica holds the lock."""
    async with pool.acquire() as conn:
        if not await try_advisory_lock(conn, lock_key):
            log.info("scheduler.tick_skipped", reason="another replica holds the lock")
            return []
        try:
            jobs: list[uuid.UUID] = []
            for step in steps:
                jobs += await step()
            return jobs
        finally:
            await advisory_unlock(conn, lock_key)


GapTable = Literal["crypto_gaps", "stock_gaps"]


async def claim_gap_attempt(
    pool: asyncpg.Pool, table: GapTable, gap_id: int, retry_seconds: float
) -> bool:
    """Count one refill attempt of an open gap (in crypto's or stocks' gap table),
    unless another replica did within `retry_seconds` (atomic)."""
    value = await pool.fetchval(
        f"""UPDATE {table} SET refill_attempts = refill_attempts + 1, last_attempt_at = now()
            WHERE id = $1 AND status = 'open'
              AND (last_attempt_at IS NULL
                   OR last_attempt_at < now() - make_interval(secs => $2))
            RETURNING id""",  # noqa: S608 - the table is one of two constants
        gap_id,
        retry_seconds,
    )
    return value is not None
