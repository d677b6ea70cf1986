"""Keeps every configured location's weather current.

- `current_tick` (every `weather_current_seconds`): the current reading of
  every configured location. Repeats are harmless (deterministic batch ids).
- `history_tick` (every `weather_history_seconds`): under a PostgreSQL
  advisory lock (one replica at a time), for each location for which
  `ticktide_common.ingest_lifecycle.scheduled_job_pending` finds no scheduled
  job (finished within half a period, or unfinished and not stale), a
  'scheduled' history job from the hour after the newest
  stored one (or `weather_history_days` back) up to the current hour
  (exclusive).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.ingest_lifecycle import run_exclusively, scheduled_job_pending
from ticktide_common.jobs import WEATHER_HISTORY_INTERVAL, request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import WeatherBackfillRequestedV1
from ticktide_common.periodic import run_periodically
from ticktide_ingest_weather import repository as repo
from ticktide_ingest_weather.hours import HOUR, align_hour_down
from ticktide_ingest_weather.service import WeatherIngester, utc_now
from ticktide_ingest_weather.settings import IngestWeatherSettings

__all__ = ["HISTORY_LOCK_KEY", "Scheduler", "history_range", "run_periodically"]

log = get_logger(__name__)

HISTORY_LOCK_KEY = int.from_bytes(b"ttwthr01", "big") & 0x7FFFFFFFFFFFFFFF


def history_range(
    last_stored: datetime | None, now: datetime, history_days: int
) -> tuple[datetime, datetime] | None:
    """The hours a scheduled job should load: after the newest stored hour (or
    `history_days` back) up to the current hour, exclusive; None when current."""
    end = align_hour_down(now)
    if last_stored is None:
        start = end - timedelta(days=history_days)
    else:
        start = align_hour_down(last_stored) + HOUR
    return (start, end) if start < end else None


@dataclass(kw_only=True, eq=False)
class Scheduler:
    """The two periodic duties of ingest-weather."""

    pool: asyncpg.Pool
    bus: Bus
    ingester: WeatherIngester
    settings: IngestWeatherSettings
    now: Callable[[], datetime] = utc_now

    async def current_tick(self) -> int:
        """Publish every location's current reading; returns how many were published."""
        return len(await self.ingester.publish_all_current())

    async def history_tick(self) -> list[uuid.UUID]:
        """Request the scheduled history jobs, if no other replica is doing it."""
        return await run_exclusively(self.pool, HISTORY_LOCK_KEY, self._request_history)

    async def _request_history(self) -> list[uuid.UUID]:
        jobs: list[uuid.UUID] = []
        for location in self.settings.weather_locations:
            if await scheduled_job_pending(
                self.pool,
                domain="weather",
                symbol=location.name,
                interval=WEATHER_HISTORY_INTERVAL,
                period_seconds=self.settings.weather_history_seconds / 2,
            ):
                continue
            last = await repo.last_historic_hour(self.pool, location.name)
            wanted = history_range(last, self.now(), self.settings.weather_history_days)
            if wanted is None:
                continue
            start, end = wanted
            job_id = await request_backfill(
                self.pool,
                self.bus,
                WeatherBackfillRequestedV1(
                    job_id=uuid.uuid4(),
                    location=location.name,
                    start=start,
                    end=end,
                    requested_by="scheduler",
                ),
                kind="scheduled",
            )
            log.info(
                "scheduler.job_requested",
                job_id=str(job_id),
                location=location.name,
                start=start.isoformat(),
                end=end.isoformat(),
            )
            jobs.append(job_id)
        return jobs
