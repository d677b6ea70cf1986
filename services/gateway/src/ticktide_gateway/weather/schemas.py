"""The weather endpoints' inputs: query and body models, the window of
`/api/weather/historic`, and the response models the document declares.

Pure: no I/O. Rejections are `InvalidQuery` (→ 422) saying what was wrong and
what is allowed; malformed fields fail pydantic validation (→ 422 naming the
field). Windows are `[start, end)` in UTC; backfills are also bounded by the
source's history start and by now (`ticktide_common.dates`).
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ticktide_common.dates import day_start
from ticktide_gateway.schemas import ResponseModel
from ticktide_gateway.validation import (
    DAY,
    DateOrTime,
    InvalidQuery,
    as_utc,
    bound_text,
    ceil_hour,
    check_history_bounds,
    check_order,
    shift,
)

__all__ = [
    "DEFAULT_WEATHER_DAYS",
    "MAX_WEATHER_RANGE_DAYS",
    "LOCATION_INPUT_PATTERN",
    "LocationName",
    "LocationQuery",
    "HistoricWeatherQuery",
    "WeatherBackfillRequest",
    "weather_window",
    "check_weather_backfill",
    "Observation",
    "CurrentWeather",
    "WeatherDay",
    "HourlyWeather",
    "DailyWeather",
    "HistoricWeather",
]

DEFAULT_WEATHER_DAYS = 7
MAX_WEATHER_RANGE_DAYS = 366
# A location with spaces around, checked as sent (so that the document carries the
# pattern that is enforced), then stripped.
LOCATION_INPUT_PATTERN = r"^ *[A-Za-z][A-Za-z .'\-]{0,63}$"


def _location_normalised(value: str) -> str:
    return value.strip(" ")


LocationName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=LOCATION_INPUT_PATTERN,
        description="a configured location's name, matched case-insensitively",
        examples=["Helsinki"],
    ),
    AfterValidator(_location_normalised),
]


class LocationQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    location: LocationName


class HistoricWeatherQuery(LocationQuery):
    start: DateOrTime | None = None
    end: DateOrTime | None = None
    aggregate: Literal["daily"] | None = Field(
        None, description="'daily' for UTC-day aggregates instead of hourly observations"
    )


class WeatherBackfillRequest(BaseModel):
    """Body of `POST /api/admin/ingest/weather/backfill`: hours in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    location: LocationName
    start: DateOrTime
    end: DateOrTime


def weather_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The window of `/historic`: default the `DEFAULT_WEATHER_DAYS` days up to the
    current hour's end; at most `MAX_WEATHER_RANGE_DAYS` days."""
    start_utc = as_utc(start) if start is not None else None
    end_utc = as_utc(end) if end is not None else None
    if end_utc is None:
        end_utc = ceil_hour(as_utc(now))
        if start_utc is not None and start_utc < end_utc:
            end_utc = min(end_utc, shift(start_utc, MAX_WEATHER_RANGE_DAYS * DAY))
    if start_utc is None:
        start_utc = shift(end_utc, -DEFAULT_WEATHER_DAYS * DAY)
    check_order(start_utc, end_utc)
    if end_utc - start_utc > MAX_WEATHER_RANGE_DAYS * DAY:
        raise InvalidQuery(
            f"range too large: {bound_text(start_utc)} to {bound_text(end_utc)} is more than "
            f"{MAX_WEATHER_RANGE_DAYS} days; narrow start/end"
        )
    return start_utc, end_utc


def check_weather_backfill(
    start: datetime,
    end: datetime,
    max_days: int,
    *,
    earliest: date,
    now: datetime,
    ahead: timedelta,
) -> tuple[datetime, datetime]:
    """UTC bounds aligned outwards to whole hours (the history is hourly), or 422:
    ordered, at most `max_days`, not before `earliest` (WEATHER_HISTORY_START) nor
    ending after `now + ahead`."""
    start_utc = as_utc(start).replace(minute=0, second=0, microsecond=0)
    end_utc = ceil_hour(as_utc(end))
    check_order(start_utc, end_utc)
    if end_utc - start_utc > max_days * DAY:
        raise InvalidQuery(
            f"range too large: {bound_text(start_utc)} to {bound_text(end_utc)} is more than "
            f"{max_days} days per backfill; split it into several requests"
        )
    check_history_bounds(start_utc, end_utc, day_start(earliest), now, ahead, "weather")
    return start_utc, end_utc


# Response models: what the routes answer (pre-built bytes, declared with
# `responses={200: {"model": ...}}` and checked by tests/api).


class Observation(ResponseModel):
    """°C, %, hPa, m/s; null where the provider gave none."""

    t: datetime = Field(description="observation time (UTC)")
    temperature: float | None
    humidity: float | None
    pressure: float | None
    wind_speed: float | None
    description: str | None


class CurrentWeather(ResponseModel):
    location: str
    source: str
    observation: Observation


class WeatherDay(ResponseModel):
    """One UTC day's aggregates of the hourly observations."""

    date: dt.date
    temperature_min: float | None
    temperature_mean: float | None
    temperature_max: float | None
    humidity_mean: float | None
    pressure_mean: float | None
    wind_speed_mean: float | None
    hours: int


class HourlyWeather(ResponseModel):
    location: str
    source: str | None = Field(description="'+'-joined sources of the rows; null: none")
    start: str = Field(description="YYYY-MM-DD at midnight, else an ISO time (inclusive)")
    end: str = Field(description="exclusive")
    aggregate: None = Field(description="null: hourly observations")
    observations: list[Observation]


class DailyWeather(ResponseModel):
    location: str
    source: str | None
    start: str
    end: str
    aggregate: Literal["daily"]
    days: list[WeatherDay]


HistoricWeather = HourlyWeather | DailyWeather
