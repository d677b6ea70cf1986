"""The ingest logic: history backfills, current weather, finalizing jobs.

`WeatherIngester.handle_backfill` runs a `WeatherBackfillRequestedV1` through
`ticktide_common.ingest_lifecycle.run_ingest_job` (domain "weather"): the
hours in `[start, end)` (aligned to the hour, never past the current hour) are
fetched in chunks of at most 31 days, and each chunk with data is published as
one `WeatherObservationsV1(kind="historic")` whose batch id is
`ticktide_common.jobs.batch_id_for(job_id, location, "1h", first hour of the
chunk)`, so a redelivered command republishes the same ids. When the provider is unreachable
(`UpstreamUnavailableError`, never after a rejection) and
`ticktide_simulated_fallback` is on, the remaining chunks come from the
simulated source, labelled `simulated`. A command starting before
`weather_history_start` fails at once (the gateway refuses it first).

`publish_current` publishes one `WeatherObservationsV1(kind="current",
job_id=None)` per location, batch id uuid5(namespace, "{location}:{observed
at}:{source}"), so publishing the same reading twice stores it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.dates import day_start, iso_z
from ticktide_common.errors import PermanentError
from ticktide_common.ingest_lifecycle import (
    FetchResult,
    JobCompleter,
    JobRow,
    commanded_job,
    run_ingest_job,
)
from ticktide_common.jobs import WEATHER_HISTORY_INTERVAL, batch_id_for
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    WeatherBackfillRequestedV1,
    WeatherObservationsV1,
    WeatherObservationV1,
    WeatherSource,
    WeatherStoredV1,
)
from ticktide_common.settings import WeatherLocation
from ticktide_common.upstream import UpstreamUnavailableError
from ticktide_ingest_weather import repository as repo
from ticktide_ingest_weather.client import WeatherProvider
from ticktide_ingest_weather.hours import (
    HOUR,
    align_hour_down,
    current_batch_id,
    hour_chunks,
)
from ticktide_ingest_weather.settings import IngestWeatherSettings
from ticktide_ingest_weather.simulated import (
    SIMULATED_SOURCE,
    simulated_current,
    simulated_hours,
)

__all__ = ["UnknownLocationError", "WeatherIngester", "utc_now"]

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnknownLocationError(PermanentError):
    """The command names a location that is neither configured nor stored."""


@dataclass(kw_only=True, eq=False)
class WeatherIngester:
    """Backfill commands, current-weather publishing and job completion."""

    pool: asyncpg.Pool
    bus: Bus
    provider: WeatherProvider
    settings: IngestWeatherSettings
    now: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        stale = self.settings.ingest_finalize_stale_seconds
        self.completer = JobCompleter(self.pool, "weather", stale, self._log_completeness)

    # ---- history -----------------------------------------------------------
    async def handle_backfill(self, command: WeatherBackfillRequestedV1) -> None:
        job = commanded_job(
            command,
            "weather",
            command.location,
            WEATHER_HISTORY_INTERVAL,
            command.start,
            command.end,
        )

        async def fetch(_stored: JobRow) -> FetchResult:
            return await self.fetch_history(command)

        attempts = min(self.settings.ingest_fetch_max_attempts, self.settings.bus_delivery_limit)
        await run_ingest_job(self.pool, job, fetch, self.completer, attempts, command.requested_by)

    async def fetch_history(self, command: WeatherBackfillRequestedV1) -> FetchResult:
        """Publish every chunk of the command's hours; see the module docstring."""
        history_start = day_start(self.settings.weather_history_start)
        if command.start < history_start:
            # The gateway answers 422 first; a command from elsewhere is refused too.
            raise PermanentError(
                f"refused: start ({iso_z(command.start)}) is before the weather history, "
                f"which starts {iso_z(history_start)} (WEATHER_HISTORY_START)"
            )
        location = await self.resolve_location(command.location)
        end = min(command.end, align_hour_down(self.now()) + HOUR)
        chunks = hour_chunks(command.start, end)
        batches = items = 0
        for index, (first, stop) in enumerate(chunks):
            try:
                observations = await self.provider.hourly(location, first, stop)
            except UpstreamUnavailableError as exc:
                if not self.settings.ticktide_simulated_fallback:
                    raise
                log.warning(
                    "ingest.simulated_fallback",
                    job_id=str(command.job_id),
                    location=location.name,
                    error=str(exc)[:300],
                )
                for sim_first, sim_stop in chunks[index:]:
                    simulated = simulated_hours(location, sim_first, sim_stop)
                    if simulated:
                        await self._publish_historic(
                            command, location, sim_first, simulated, SIMULATED_SOURCE
                        )
                        batches, items = batches + 1, items + len(simulated)
                return FetchResult(batches, items, SIMULATED_SOURCE)
            if observations:
                await self._publish_historic(
                    command, location, first, observations, self.provider.source
                )
                batches, items = batches + 1, items + len(observations)
        return FetchResult(batches, items, self.provider.source)

    async def _publish_historic(
        self,
        command: WeatherBackfillRequestedV1,
        location: WeatherLocation,
        first_hour: datetime,
        observations: list[WeatherObservationV1],
        source: WeatherSource,
    ) -> None:
        batch = WeatherObservationsV1(
            batch_id=batch_id_for(
                command.job_id,
                location.name,
                WEATHER_HISTORY_INTERVAL,
                first_hour.isoformat(),
                simulated=source == SIMULATED_SOURCE,
            ),
            job_id=command.job_id,
            location=location.name,
            kind="historic",
            source=source,
            observations=observations,
        )
        await self.bus.publish(batch, correlation_id=str(command.job_id))

    async def resolve_location(self, name: str) -> WeatherLocation:
        """A configured location by name (case-insensitive), else a stored one."""
        for location in self.settings.weather_locations:
            if location.name.lower() == name.lower():
                return location
        stored = await repo.find_location(self.pool, name)
        if stored is None:
            raise UnknownLocationError(f"unknown weather location {name!r}")
        return stored

    # ---- completion --------------------------------------------------------
    async def on_stored(self, event: WeatherStoredV1) -> None:
        if event.job_id is not None:
            await self.completer.try_finalize(event.job_id)

    async def maintain(self) -> None:
        """The periodic pass: finish jobs a race left unfinished."""
        await self.completer.sweep()

    async def _log_completeness(self, job: JobRow) -> None:
        if job.start is None or job.end is None:
            return
        end = min(job.end, align_hour_down(self.now()) + HOUR)
        expected = max(0, int((end - align_hour_down(job.start)) / HOUR))
        present = await repo.count_historic_hours(self.pool, job.symbol, job.start, end)
        log.info(
            "ingest.weather_completeness",
            job_id=str(job.id),
            location=job.symbol,
            expected_hours=expected,
            present_hours=present,
        )

    # ---- current weather ---------------------------------------------------
    async def publish_current(self, location: WeatherLocation) -> WeatherObservationsV1:
        """Fetch and publish the current reading of one location."""
        source: WeatherSource = self.provider.source
        try:
            observation = await self.provider.current(location)
        except UpstreamUnavailableError as exc:
            if not self.settings.ticktide_simulated_fallback:
                raise
            log.warning("ingest.simulated_fallback", location=location.name, error=str(exc)[:300])
            observation, source = simulated_current(location, self.now()), SIMULATED_SOURCE
        batch = WeatherObservationsV1(
            batch_id=current_batch_id(location.name, observation.t, source),
            job_id=None,
            location=location.name,
            kind="current",
            source=source,
            observations=[observation],
        )
        await self.bus.publish(batch, correlation_id=str(batch.batch_id))
        return batch

    async def publish_all_current(self) -> list[WeatherObservationsV1]:
        """The current reading of every configured location; one failing location
        is logged and does not stop the others."""
        published: list[WeatherObservationsV1] = []
        for location in self.settings.weather_locations:
            try:
                published.append(await self.publish_current(location))
            except Exception as exc:
                log.warning("ingest.current_failed", location=location.name, error=repr(exc)[:300])
        return published
