"""Ingest jobs: the row that follows one load (backfill, archive import,
scheduled refresh, gap refill) from request to stored, shared by the gateway,
the CLI and the ingesters.

Life of a job: `queued` (created by whoever asks) → `running` (an ingester
fetches) → `fetched` (every batch was confirmed by the broker; the number of
batches is known) → `finalizing` (every batch is committed by the writer; gap
detection runs) → `done`, or `failed` with `error`. Progress is derived from
`ingest_batches`, which the writer fills in the same transaction as the candles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal, TypeAlias, assert_never

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.messages import (
    CryptoBackfillRequestedV1,
    StocksBackfillRequestedV1,
    WeatherBackfillRequestedV1,
)

__all__ = [
    "JobKind",
    "JobProgress",
    "create_job",
    "get_job_progress",
    "job_progress",
    "mark_job_fetched",
    "mark_job_failed",
    "BackfillRequested",
    "request_backfill",
    "STOCKS_INTERVAL",
    "WEATHER_HISTORY_INTERVAL",
    "SIMULATED_SOURCE",
    "batch_id_for",
]

JobKind = Literal["backfill", "archive-import", "scheduled", "gap-refill"]
JobDomain = Literal["crypto", "stocks", "weather"]
# What `ingest_jobs.interval_type` says for the series of the other domains.
STOCKS_INTERVAL = "1d"
WEATHER_HISTORY_INTERVAL = "1h"

_INSERT_JOB = """
INSERT INTO ingest_jobs (id, kind, symbol, interval_type, range_start, range_end, requested_by,
                         domain)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

_JOB_PROGRESS = """
SELECT j.id, j.kind, j.symbol, j.interval_type AS interval, j.range_start AS start,
       j.range_end AS "end", j.status, j.batches_expected, j.candles_expected, j.error,
       j.created_at, j.finished_at,
       coalesce(b.batches, 0) AS batches_stored, coalesce(b.candles, 0) AS candles_stored
FROM ingest_jobs j
LEFT JOIN LATERAL (
    SELECT count(*) AS batches, sum(candles) AS candles
    FROM ingest_batches WHERE job_id = j.id
) b ON true
WHERE j.id = $1
"""


_MARK_FETCHED = """
UPDATE ingest_jobs
SET status = 'fetched', batches_expected = $2, candles_expected = $3, source = $4,
    error = NULL, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING status
"""

_MARK_FAILED = """
UPDATE ingest_jobs SET status = 'failed', error = $2, updated_at = now(), finished_at = now()
WHERE id = $1 AND status NOT IN ('done', 'failed')
"""


SIMULATED_SOURCE = "simulated"


def batch_id_for(
    job_id: uuid.UUID, symbol: str, interval: str, first: int | str, *, simulated: bool = False
) -> uuid.UUID:
    """The id of one batch of a job, every domain's: uuid5(job id,
    "{symbol}:{interval}:{first}"), where `symbol:interval` is the series (a
    crypto pair, a stock, a weather location, with the job's `interval_type`)
    and `first` names the batch's first item (a candle's open time in ms, a
    session's ISO date, an hour in ISO form).

    Deterministic, so a redelivered command (or a re-run) publishes the same ids
    and the writer, which records every stored batch id, stores each batch once:
    redelivery is harmless. Simulated batches get ids of their own (a
    ":simulated" suffix), so real items fetched on a later run are not mistaken
    for already-stored duplicates of simulated ones."""
    name = f"{symbol}:{interval}:{first}"
    if simulated:
        name = f"{name}:{SIMULATED_SOURCE}"
    return uuid.uuid5(job_id, name)


@dataclass(frozen=True)
class JobProgress:
    id: uuid.UUID
    kind: str
    symbol: str
    interval: str
    start: datetime | None
    end: datetime | None
    status: str
    batches_expected: int | None
    candles_expected: int | None
    batches_stored: int
    candles_stored: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def as_json(self) -> dict[str, object]:
        return {
            "job_id": str(self.id),
            "kind": self.kind,
            "symbol": self.symbol,
            "interval": self.interval,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "status": self.status,
            "batches_expected": self.batches_expected,
            "candles_expected": self.candles_expected,
            "batches_stored": self.batches_stored,
            "candles_stored": self.candles_stored,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


async def create_job(
    pool: asyncpg.Pool,
    *,
    kind: JobKind,
    symbol: str,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    requested_by: str = "system",
    job_id: uuid.UUID | None = None,
    domain: JobDomain = "crypto",
) -> uuid.UUID:
    job_id = job_id or uuid.uuid4()
    await pool.execute(
        _INSERT_JOB, job_id, kind, symbol, interval, start, end, requested_by, domain
    )
    return job_id


async def mark_job_fetched(
    pool: asyncpg.Pool, job_id: uuid.UUID, *, batches: int, candles: int, source: str
) -> bool:
    """Every batch of the job was confirmed by the broker; their number is now known.
    False when the job had moved on already (a re-run after redelivery)."""
    status = await pool.fetchval(_MARK_FETCHED, job_id, batches, candles, source)
    return status is not None


async def mark_job_failed(pool: asyncpg.Pool, job_id: uuid.UUID, error: str) -> None:
    await pool.execute(_MARK_FAILED, job_id, error[:2000])


def job_progress(row: asyncpg.Record) -> JobProgress:
    """A row selected as `_JOB_PROGRESS` does (columns named as the fields)."""
    return JobProgress(**dict(row.items()))


async def get_job_progress(pool: asyncpg.Pool, job_id: uuid.UUID) -> JobProgress | None:
    row = await pool.fetchrow(_JOB_PROGRESS, job_id)
    return job_progress(row) if row is not None else None


# The command of each domain that starts a backfill job (its ingester acts on it).
BackfillRequested: TypeAlias = (
    CryptoBackfillRequestedV1 | StocksBackfillRequestedV1 | WeatherBackfillRequestedV1
)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _job_series(command: BackfillRequested) -> tuple[JobDomain, str, str, datetime, datetime]:
    """What the `ingest_jobs` row of `command` records: domain, series (`symbol`
    and `interval_type`) and range as times."""
    match command:
        case CryptoBackfillRequestedV1():
            return "crypto", command.symbol, command.interval, command.start, command.end
        case StocksBackfillRequestedV1():
            start, end = _midnight(command.start), _midnight(command.end)
            return "stocks", command.symbol, STOCKS_INTERVAL, start, end
        case WeatherBackfillRequestedV1():
            return "weather", command.location, WEATHER_HISTORY_INTERVAL, command.start, command.end
    assert_never(command)


async def request_backfill(
    pool: asyncpg.Pool,
    bus: Bus,
    command: BackfillRequested,
    *,
    kind: JobKind = "backfill",
    correlation_id: str | None = None,
) -> uuid.UUID:
    """Record the job `command.job_id` (of `kind`), then publish `command` to its
    ingester, waiting for the broker's confirm: a job exists before its command.
    Returns the job's id."""
    domain, symbol, interval, start, end = _job_series(command)
    await create_job(
        pool,
        kind=kind,
        symbol=symbol,
        interval=interval,
        start=start,
        end=end,
        requested_by=command.requested_by,
        job_id=command.job_id,
        domain=domain,
    )
    await bus.publish(command, correlation_id=correlation_id)
    return command.job_id
