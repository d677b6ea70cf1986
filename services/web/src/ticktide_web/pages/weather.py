"""`/weather`: the current conditions of every configured location (cards),
and one location's history over a range, hourly or as daily aggregates: a
summary rendered here and a chart (`weather_chart.js`) of the same answer.

The locations are the dashboard's (`GET /api/dashboard` lists every active
one); where that endpoint does not answer, the configured ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep, SettingsDep
from ticktide_web.pages.market import (
    BadInput,
    QueryText,
    RangeQuery,
    choose_range,
    form_time,
    iso,
)
from ticktide_web.rendering import PageContext

router = APIRouter()

HOUR = timedelta(hours=1)
MAX_DAYS = 366  # the API's MAX_WEATHER_RANGE_DAYS
WEATHER_RANGES: tuple[tuple[str, str, int, int], ...] = (
    ("1d", "1 day", 0, 1),
    ("1w", "7 days", 0, 7),
    ("1m", "30 days", 0, 30),
    ("1y", "1 year", 0, 365),
    ("custom", "Custom (Start and End)", 0, 0),
)
DEFAULT_RANGE = "1w"


async def location_names(page: PageContext, configured: list[str]) -> list[str]:
    try:
        dashboard = await page.api.get("/api/dashboard")
    except ApiError as exc:
        if exc.status == 401:
            raise
        return configured
    names = [str(entry["location"]) for entry in dashboard.get("weather") or []]
    return names or configured


async def _current(page: PageContext, location: str) -> dict[str, Any]:
    try:
        body = await page.api.get("/api/weather/current", location=location)
    except ApiError as exc:
        if exc.status == 401:
            raise
        message = "No current weather stored yet." if exc.status == 404 else exc.message
        return {"location": location, "observation": None, "source": None, "error": message}
    return {**body, "error": None}


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _summary(body: dict[str, Any], daily: bool) -> dict[str, Any]:
    """Observation count and min/mean/max temperature, mean humidity, pressure, wind."""
    if daily:
        days = body.get("days") or []
        hours = sum(int(d.get("hours") or 0) for d in days)
        weights = [(d, int(d.get("hours") or 0)) for d in days]

        def weighted(key: str) -> float | None:
            total = sum(w for d, w in weights if d.get(key) is not None)
            if not total:
                return None
            return sum(d[key] * w for d, w in weights if d.get(key) is not None) / total

        lows = [d["temperature_min"] for d in days if d.get("temperature_min") is not None]
        highs = [d["temperature_max"] for d in days if d.get("temperature_max") is not None]
        return {
            "observations": hours,
            "points": len(days),
            "temperature_min": min(lows) if lows else None,
            "temperature_max": max(highs) if highs else None,
            "temperature_mean": weighted("temperature_mean"),
            "humidity_mean": weighted("humidity_mean"),
            "pressure_mean": weighted("pressure_mean"),
            "wind_speed_mean": weighted("wind_speed_mean"),
        }
    rows = body.get("observations") or []
    temps = [r["temperature"] for r in rows if r.get("temperature") is not None]
    return {
        "observations": len(rows),
        "points": len(rows),
        "temperature_min": min(temps) if temps else None,
        "temperature_max": max(temps) if temps else None,
        "temperature_mean": _mean(temps),
        "humidity_mean": _mean([r.get("humidity") for r in rows]),
        "pressure_mean": _mean([r.get("pressure") for r in rows]),
        "wind_speed_mean": _mean([r.get("wind_speed") for r in rows]),
    }


def _ceil_hour(value: datetime) -> datetime:
    floor = value.replace(minute=0, second=0, microsecond=0)
    return floor if floor == value else floor + HOUR


@router.get("/weather")
async def weather(
    page: PageDep,
    settings: SettingsDep,
    location: QueryText = "",
    aggregate: Annotated[str, Query(max_length=10)] = "hourly",
    range_key: RangeQuery = "",
    start: QueryText = "",
    end: QueryText = "",
) -> Response:
    configured = [loc.name for loc in settings.weather_locations]
    names = await location_names(page, configured)
    by_lower = {name.lower(): name for name in names}
    chosen_name = by_lower.get(location.strip().lower()) if location.strip() else None
    if not location.strip() and names:
        chosen_name = names[0]
    daily = aggregate == "daily"
    errors: dict[str, str] = {}
    context: dict[str, Any] = {
        "cards": [],
        "names": names,
        "location": chosen_name or location.strip(),
        "aggregate": "daily" if daily else "hourly",
        "ranges": [(value, label) for value, label, _, _ in WEATHER_RANGES],
        "range_key": range_key,
        "start_text": start,
        "end_text": end,
        "errors": errors,
        "chosen": None,
        "history": None,
        "summary": None,
        "sources": [],
    }

    async def done(status: int, message: str | None = None) -> Response:
        if not context["cards"]:
            context["cards"] = await asyncio.gather(*(_current(page, name) for name in names))
        return page.render(
            "weather.html",
            title=f"{chosen_name} · Weather" if chosen_name else "Weather",
            status_code=status,
            error=message,
            scripts=["js/weather_chart.js", "js/market_form.js"],
            **context,
        )

    if not names:
        return await done(200, "No weather locations are configured yet.")
    if chosen_name is None:
        errors["location"] = f"Unknown location '{location[:40]}'"
        return await done(
            404, f"Unknown location '{location[:40]}'; choose one of {', '.join(names)}."
        )
    if aggregate not in ("hourly", "daily"):
        errors["aggregate"] = "Choose Hourly or Daily"
        return await done(422, f"Unknown resolution '{aggregate[:10]}'; choose Hourly or Daily.")
    try:
        chosen = choose_range(
            range_key,
            start,
            end,
            first=None,
            last_end=_ceil_hour(datetime.now(UTC)),
            now=datetime.now(UTC),
            default=DEFAULT_RANGE,
            choices=WEATHER_RANGES,
        )
    except BadInput as exc:
        errors[exc.field] = exc.message
        return await done(422, exc.message)
    context.update(
        chosen=chosen,
        range_key=chosen.key,
        start_text=form_time(chosen.start),
        end_text=form_time(chosen.end),
    )
    if chosen.end - chosen.start > timedelta(days=MAX_DAYS):
        errors["start"] = f"At most {MAX_DAYS} days of weather history at a time"
        return await done(422, f"This range is longer than {MAX_DAYS} days; choose a shorter one.")
    params = {"location": chosen_name, "start": iso(chosen.start), "end": iso(chosen.end)}

    async def history() -> tuple[dict[str, Any] | None, ApiError | None]:
        try:
            body = await page.api.get(
                "/api/weather/historic", **params, aggregate="daily" if daily else None
            )
        except ApiError as exc:
            if exc.status in (401, 403) or exc.status >= 500:
                raise
            return None, exc
        return body, None

    # The cards and the history are asked for at once.
    cards, (body, failure) = await asyncio.gather(
        asyncio.gather(*(_current(page, name) for name in names)), history()
    )
    context["cards"] = cards
    if failure is not None or body is None:
        status = failure.status if failure and failure.status in (404, 422) else 400
        return await done(status, failure.message if failure else "no answer")
    source = body.get("source") or ""
    context.update(
        history=body,
        summary=_summary(body, daily),
        sources=sorted({part for part in source.split("+") if part}),
    )
    return await done(200)
