"""Keeps every configured series current, and retries open gaps.

Each tick (every `crypto_schedule_seconds`, when `crypto_scheduler_enabled`)
takes a PostgreSQL advisory lock so that only one replica works at a time, then
for each symbol × interval requests a 'scheduled' job from the newest stored
bar (inclusive) to now, or from `crypto_history_days` ago for an empty series
(never before `crypto_history_start`),
unless `ticktide_common.ingest_lifecycle.scheduled_job_pending` says the series
has one (finished within half a schedule period, or unfinished and not stale);
then requests refills of open gaps whose last attempt is old enough (bounded
attempts).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.dates import day_start
from ticktide_common.ingest_lifecycle import run_exclusively, scheduled_job_pending
from ticktide_common.jobs import request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import CryptoBackfillRequestedV1
from ticktide_common.periodic import run_periodically
from ticktide_ingest_crypto import repository as repo
from ticktide_ingest_crypto.gaps import (
    align_up,
    datetime_to_ms,
    incremental_range,
    ms_to_datetime,
)
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.settings import IngestCryptoSettings

__all__ = ["SCHEDULER_LOCK_KEY", "Scheduler", "run_periodically"]

log = get_logger(__name__)

SCHEDULER_LOCK_KEY = int.from_bytes(b"ttsched1", "big") & 0x7FFFFFFFFFFFFFFF


@dataclass(kw_only=True, eq=False)
class Scheduler:
    """One tick (one replica at a time: the advisory lock `SCHEDULER_LOCK_KEY`) =
    a scheduled job for every symbol × interval that needs one, then the gap
    refills that are due."""

    pool: asyncpg.Pool
    bus: Bus
    ingester: CryptoIngester
    settings: IngestCryptoSettings
    clock: Callable[[], float] = time.time

    async def tick(self) -> list[uuid.UUID]:
        """Run one tick if no other replica is; returns the jobs requested."""
        refills = self.ingester.request_refills
        return await run_exclusively(self.pool, SCHEDULER_LOCK_KEY, self._refresh_series, refills)

    async def _refresh_series(self) -> list[uuid.UUID]:
        now_ms = int(self.clock() * 1000)
        history_start_ms = datetime_to_ms(day_start(self.settings.crypto_history_start))
        jobs: list[uuid.UUID] = []
        for symbol in self.settings.crypto_symbols:
            for interval in self.settings.crypto_intervals:
                if await scheduled_job_pending(
                    self.pool,
                    domain="crypto",
                    symbol=symbol,
                    interval=interval,
                    period_seconds=self.settings.crypto_schedule_seconds / 2,
                ):
                    continue
                last = await repo.last_open_time(self.pool, symbol, interval)
                start_ms, end_ms = incremental_range(
                    datetime_to_ms(last) if last else None,
                    now_ms,
                    interval,
                    self.settings.crypto_history_days,
                )
                # Never before Binance's history (the runner would refuse the job).
                start_ms = max(start_ms, align_up(history_start_ms, interval))
                job_id = await request_backfill(
                    self.pool,
                    self.bus,
                    CryptoBackfillRequestedV1(
                        job_id=uuid.uuid4(),
                        symbol=symbol,
                        interval=interval,  # type: ignore[arg-type]
                        start=ms_to_datetime(start_ms),
                        end=ms_to_datetime(end_ms),
                        requested_by="scheduler",
                    ),
                    kind="scheduled",
                )
                log.info(
                    "scheduler.job_requested",
                    job_id=str(job_id),
                    symbol=symbol,
                    interval=interval,
                    start=ms_to_datetime(start_ms).isoformat(),
                )
                jobs.append(job_id)
        return jobs
