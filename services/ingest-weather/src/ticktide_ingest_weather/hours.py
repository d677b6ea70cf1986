"""Hour arithmetic of hourly weather history (pure): alignment, the hours of a
range, chunks of a backfill, and the deterministic id of a current reading
(a history chunk's is `ticktide_common.jobs.batch_id_for`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

__all__ = [
    "CURRENT_NAMESPACE",
    "HOUR",
    "MAX_CHUNK_HOURS",
    "align_hour_down",
    "align_hour_up",
    "current_batch_id",
    "hour_chunks",
    "hours_in",
]

HOUR = timedelta(hours=1)
MAX_CHUNK_HOURS = 744  # 31 days: one request to Open-Meteo's archive, one batch
CURRENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "ticktide:weather-current")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def align_hour_down(moment: datetime) -> datetime:
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


def align_hour_up(moment: datetime) -> datetime:
    down = align_hour_down(moment)
    return down if down == _utc(moment) else down + HOUR


def hours_in(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every whole hour `t` with `start <= t < end` (start rounded up)."""
    moment, stop = align_hour_up(start), _utc(end)
    while moment < stop:
        yield moment
        moment += HOUR


def hour_chunks(
    start: datetime, end: datetime, max_hours: int = MAX_CHUNK_HOURS
) -> list[tuple[datetime, datetime]]:
    """`[start, end)` (start rounded up to the hour) cut into `[a, b)` pieces of at
    most `max_hours` hours; the last may be shorter."""
    if max_hours < 1:
        raise ValueError("max_hours must be positive")
    cursor, stop = align_hour_up(start), _utc(end)
    chunks: list[tuple[datetime, datetime]] = []
    while cursor < stop:
        upper = min(cursor + max_hours * HOUR, stop)
        chunks.append((cursor, upper))
        cursor = upper
    return chunks


def current_batch_id(location: str, observed: datetime, source: str) -> uuid.UUID:
    """A current observation: the same reading published twice has the same id."""
    return uuid.uuid5(CURRENT_NAMESPACE, f"{location}:{_utc(observed).isoformat()}:{source}")
