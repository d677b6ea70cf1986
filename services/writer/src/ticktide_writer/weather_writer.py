"""Persisting weather: the `writer.weather` handler (`WeatherObservationsV1`
→ `weather_current` or `weather_historic` by kind, then `WeatherStoredV1`).
One transaction per message, no group commit: hourly history and a current
reading per location are a few messages per minute (see `per_message_writer`).

Any valid location name is accepted and stored as sent: the ingester owns the
configuration of locations, the writer does not second-guess it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ticktide_common.errors import PermanentError
from ticktide_common.faults import CommitFault
from ticktide_common.messages import WeatherObservationsV1, WeatherStoredV1
from ticktide_writer.per_message_writer import PerMessageWriter, Stored
from ticktide_writer.weather_repository import WeatherRepository
from ticktide_writer.weather_rows import weather_columns, weather_stored_event

__all__ = ["WeatherWriter"]


class WeatherWriter(PerMessageWriter[WeatherObservationsV1, WeatherStoredV1]):
    """Upserts a batch of observations of one location; `handle` is the bus handler."""

    domain = "weather"

    def __init__(
        self,
        repository: WeatherRepository,
        publish: Callable[[WeatherStoredV1], Awaitable[None]],
        *,
        fault: CommitFault | None = None,
    ) -> None:
        super().__init__(publish, fault=fault)
        self._repository = repository

    async def store(self, message: WeatherObservationsV1) -> Stored[WeatherStoredV1]:
        try:
            columns = weather_columns(message.observations)
        except ValueError as exc:
            raise PermanentError(f"weather payload cannot be stored as JSON: {exc}") from exc
        async with self._repository.transaction() as transaction:
            new = await transaction.claim_batch(
                message.batch_id, message.job_id, len(message.observations)
            )
            rows_changed = 0
            if new:
                rows_changed = await transaction.upsert_observations(
                    message.kind, message.location, columns, message.source
                )
        return Stored(weather_stored_event(message, rows_changed), new, rows_changed)
