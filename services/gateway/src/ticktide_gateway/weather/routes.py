"""User routes under `/api/weather`: the current observation of a configured
location and its hourly history (or daily aggregates of it). Bodies are cached
in Redis per location and dropped when the writer stores that location's
observations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from ticktide_gateway.auth import GuardedRoute, current_principal
from ticktide_gateway.cache import cached_json, location_series
from ticktide_gateway.deps import CacheDep, PoolDep, SeriesPathDep, SymbolDirectory, SymbolsDep
from ticktide_gateway.validation import bound_text
from ticktide_gateway.weather import repository as repo
from ticktide_gateway.weather.bodies import current_weather_body, historic_weather_body
from ticktide_gateway.weather.schemas import (
    MAX_WEATHER_RANGE_DAYS,
    CurrentWeather,
    HistoricWeather,
    HistoricWeatherQuery,
    LocationQuery,
    weather_window,
)

__all__ = ["router", "resolve_location"]

router = APIRouter(
    prefix="/api/weather",
    tags=["weather"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

UNITS = "`temperature` °C, `humidity` %, `pressure` hPa, `wind_speed` m/s; `t` ISO-8601 UTC."
HISTORIC_DESCRIPTION = (
    "`start` inclusive, `end` exclusive (dates or ISO times, UTC); default the 7 days "
    f"up to the end of the current hour; at most {MAX_WEATHER_RANGE_DAYS} days. "
    "With `aggregate=daily`: one entry per UTC day with min/mean/max temperature, "
    f"mean humidity, pressure and wind speed, and the number of hours. {UNITS}"
)


async def resolve_location(pool: PoolDep, name: str, directory: SymbolDirectory) -> str:
    """The configured location's own spelling of `name` (case-insensitive), or 404
    listing the known ones."""
    found = await directory.location(name)
    if found is None:
        known = ", ".join(await repo.known_locations(pool)) or "none configured"
        raise HTTPException(404, f"unknown location '{name}'; known: {known}")
    return found


@router.get(
    "/current",
    summary="The latest current-weather observation of one location",
    description=UNITS,
    responses={
        200: {"model": CurrentWeather},
        404: {"description": "unknown location, or nothing stored for it yet"},
    },
)
async def current(
    query: Annotated[LocationQuery, Query()],
    pool: PoolDep,
    cache: CacheDep,
    directory: SymbolsDep,
    request: Request,
) -> Response:
    location = await resolve_location(pool, query.location, directory)

    async def build() -> bytes:
        found = await repo.current_observation(pool, location)
        if found is None:
            raise HTTPException(404, f"no current weather stored for '{location}' yet")
        return current_weather_body(location, *found)

    return await cached_json(
        cache,
        "weather-current",
        [location_series(location)],
        [],
        build,
        accept_encoding=request.headers.get("accept-encoding"),
    )


@router.get(
    "/historic",
    summary="Hourly observations of one location, or their daily aggregates",
    description=HISTORIC_DESCRIPTION,
    responses={
        200: {"model": HistoricWeather},
        404: {"description": "unknown location"},
        422: {"description": f"bad date, aggregate, or a range over {MAX_WEATHER_RANGE_DAYS} days"},
    },
)
async def historic(
    query: Annotated[HistoricWeatherQuery, Query()],
    pool: PoolDep,
    cache: CacheDep,
    directory: SymbolsDep,
    path: SeriesPathDep,
    request: Request,
) -> Response:
    start, end = weather_window(query.start, query.end, datetime.now(UTC))
    location = await resolve_location(pool, query.location, directory)

    async def build() -> bytes:
        if query.aggregate == "daily":
            rows = await repo.daily_json(pool, location, start, end, path)
        else:
            rows = await repo.historic_json(pool, location, start, end)
        return historic_weather_body(
            location, bound_text(start), bound_text(end), query.aggregate, rows.array, rows.sources
        )

    series = [location_series(location)]
    parts = [start, end, query.aggregate]
    return await cached_json(
        cache,
        "weather-historic",
        series,
        parts,
        build,
        accept_encoding=request.headers.get("accept-encoding"),
    )
