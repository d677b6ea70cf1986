"""What the market pages (`/crypto`, `/stocks`, `/weather`) share: the range
picker (a preset span ending at the series' last stored bar, or custom
start/end), times as the forms show them, the windows a long range is fetched
in (the API answers at most `MAX_CANDLES_PER_REQUEST` candles per request),
the statistics of a candle series, the address of a view, a page of the gaps
report, and an admin's backfill job (following one, and queueing one).

Pure apart from `ingest_job`, `optional_get` and `queue_backfill` (API calls).
This module has no routes; its empty router satisfies the page loader."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response

from ticktide_common.dates import to_utc
from ticktide_web.api import ApiError
from ticktide_web.rendering import PageContext

__all__ = [
    "FormText",
    "GapPageQuery",
    "QueryText",
    "RangeQuery",
    "GAPS_PER_PAGE",
    "MAX_CANDLES_PER_REQUEST",
    "RANGE_CHOICES",
    "BadInput",
    "ChosenRange",
    "candle_stats",
    "choose_range",
    "client_status",
    "form_time",
    "gap_page",
    "ingest_job",
    "iso",
    "market_scripts",
    "months_before",
    "nothing",
    "optional_get",
    "parse_time",
    "queue_backfill",
    "range_choices",
    "view_url",
    "windows",
]

router = APIRouter()

MAX_CANDLES_PER_REQUEST = 20000  # the gateway's MAX_CANDLES_PER_REQUEST
GAPS_PER_PAGE = 50

# The market pages' parameters: a view's query and a backfill form's fields.
QueryText = Annotated[str, Query(max_length=64)]
RangeQuery = Annotated[str, Query(alias="range", max_length=20)]
GapPageQuery = Annotated[int, Query(ge=1, le=100_000)]
FormText = Annotated[str, Form(max_length=256)]

# (value, label, months, days): a preset span ending at the last stored bar.
RANGE_CHOICES: tuple[tuple[str, str, int, int], ...] = (
    ("1w", "1 week", 0, 7),
    ("1m", "1 month", 1, 0),
    ("3m", "3 months", 3, 0),
    ("1y", "1 year", 12, 0),
    ("5y", "5 years", 60, 0),
    ("all", "All stored", 0, 0),
    ("custom", "Custom (Start and End)", 0, 0),
)


class BadInput(ValueError):
    """A form field the page cannot use; `field` names it for the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_time(text: str, field: str) -> datetime:
    """`2024-01-01`, `2024-01-01 05:00`, `2024-01-01T05:00:00Z` or with an offset → UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(
            field, f"{field.capitalize()}: '{text[:40]}' is not a date (YYYY-MM-DD[ HH:MM], UTC)"
        ) from None
    try:
        return to_utc(parsed)  # the API's own parser: years 1-9999 in UTC
    except ValueError as exc:
        raise BadInput(field, f"{field.capitalize()}: {exc}") from None


def iso(value: datetime) -> str:
    """The API's spelling of a time: ISO-8601 UTC with `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def form_time(value: datetime | None, *, with_time: bool = True) -> str:
    """A time as the forms show it: the date alone at midnight."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    if not with_time or (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M")


def months_before(value: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    index = value.year * 12 + value.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=value.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return value.replace(year=year, month=month, day=min(value.day, last_day))


@dataclass(frozen=True)
class ChosenRange:
    """The window a page shows: `[start, end)` in UTC, and which preset chose it."""

    key: str
    start: datetime
    end: datetime
    label: str


def choose_range(
    key: str,
    start_text: str,
    end_text: str,
    *,
    first: datetime | None,
    last_end: datetime | None,
    now: datetime,
    default: str,
    align: timedelta | None = None,
    choices: tuple[tuple[str, str, int, int], ...] = RANGE_CHOICES,
) -> ChosenRange:
    """The window of a request. Explicit Start/End win when the range is `custom`
    (or not given); a preset ends at `last_end` (the end of the last stored bar,
    else now, aligned down to `align`) and spans its months/days back, `all`
    starts at the first stored bar. Raises BadInput."""
    key = key.strip() or ("custom" if start_text.strip() or end_text.strip() else default)
    labels = {value: label for value, label, _, _ in choices}
    if key not in labels:
        raise BadInput("range", f"Range: '{key[:20]}' is not one of the choices")
    end_default = last_end
    if end_default is None:
        end_default = now
        if align is not None:
            seconds = align.total_seconds()
            end_default = datetime.fromtimestamp(
                math.floor(now.timestamp() / seconds) * seconds, UTC
            )
    if key == "custom":
        end = parse_time(end_text, "end") if end_text.strip() else end_default
        if start_text.strip():
            start = parse_time(start_text, "start")
        else:
            start = first if first is not None and first < end else months_before(end, 1)
        if start >= end:
            raise BadInput("start", "Start must be before End (Start inclusive, End exclusive)")
        return ChosenRange(key, start, end, labels[key])
    end = end_default
    if key == "all":
        start = first if first is not None and first < end else months_before(end, 1)
        return ChosenRange(key, start, end, labels[key])
    _, _, months, days = next(c for c in choices if c[0] == key)
    start = months_before(end, months) - timedelta(days=days)
    return ChosenRange(key, start, end, labels[key])


def windows(
    start: datetime, end: datetime, step: timedelta, per_request: int = MAX_CANDLES_PER_REQUEST
) -> list[tuple[datetime, datetime]]:
    """`[start, end)` cut into consecutive windows of at most `per_request` slots
    (the last window ends exactly at `end`)."""
    pieces: list[tuple[datetime, datetime]] = []
    span = step * per_request
    cursor = start
    while cursor < end:
        upper = min(cursor + span, end)
        pieces.append((cursor, upper))
        cursor = upper
    return pieces


def candle_stats(candles: list[dict[str, Any]]) -> dict[str, Any] | None:
    """First and last bar, high and low with their times, change from the first
    open (or close, where the open is unknown) to the last close, mean volume."""
    if not candles:
        return None
    first, last = candles[0], candles[-1]
    high = max(candles, key=lambda c: c["h"] if c["h"] is not None else -math.inf)
    low = min(candles, key=lambda c: c["l"] if c["l"] is not None else math.inf)
    opening = first["o"] if first.get("o") is not None else first["c"]
    change = (last["c"] / opening - 1) * 100 if opening else None
    volumes = [c["v"] for c in candles if c.get("v") is not None]
    return {
        "count": len(candles),
        "first": first,
        "last": last,
        "open": opening,
        "close": last["c"],
        "high": high,
        "low": low,
        "change_pct": change,
        "average_volume": sum(volumes) / len(volumes) if volumes else None,
    }


async def ingest_job(page: PageContext, job_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """An admin's backfill job by id, or the API's message about it."""
    if not job_id:
        return None, None
    if len(job_id) > 64 or not all(c in "0123456789abcdefABCDEF-" for c in job_id):
        return None, "That is not a job id."
    try:
        job = await page.api.get(f"/api/admin/ingest/jobs/{job_id}")
    except ApiError as exc:
        if exc.status in (401, 503) or exc.status >= 500:
            raise
        return None, f"Backfill job {job_id}: {exc.message}"
    return job, None


def range_choices() -> list[tuple[str, str]]:
    """The Range select's (value, label) options."""
    return [(value, label) for value, label, _, _ in RANGE_CHOICES]


def view_url(path: str, query: dict[str, str], chosen: ChosenRange, **extra: str) -> str:
    """The address of a view: `query` (the series), then the range as chosen (a
    preset, or Start/End), then the `extra` parameters that are not empty."""
    query = query | {"range": chosen.key}
    if chosen.key == "custom":
        query |= {"start": form_time(chosen.start), "end": form_time(chosen.end)}
    return f"{path}?" + urlencode(query | {k: v for k, v in extra.items() if v})


def gap_page(
    gaps: list[dict[str, Any]],
    number: int,
    base: str,
    shown: Callable[[dict[str, Any]], dict[str, Any]] = lambda gap: gap,
) -> dict[str, Any]:
    """Page `number` (clamped) of a gaps report, each gap as `shown` makes it,
    with the addresses of the pages before and after (`base` has a query)."""
    pages = max(1, math.ceil(len(gaps) / GAPS_PER_PAGE))
    number = min(max(number, 1), pages)
    offset = (number - 1) * GAPS_PER_PAGE
    return {
        "gaps_shown": [shown(gap) for gap in gaps[offset : offset + GAPS_PER_PAGE]],
        "gap_offset": offset,
        "gap_prev_url": f"{base}&gap_page={number - 1}" if number > 1 else None,
        "gap_next_url": f"{base}&gap_page={number + 1}" if number < pages else None,
    }


def market_scripts(page: PageContext) -> list[str]:
    """The scripts of a market page with a chart (an admin's follow backfill jobs too)."""
    admin = page.me is not None and page.me.is_admin
    return ["js/price_chart.js", "js/market_form.js"] + (["js/market_jobs.js"] if admin else [])


def nothing() -> Coroutine[Any, Any, tuple[None, None]]:
    """In place of an optional answer nobody asked for (beside others in a gather)."""
    return asyncio.sleep(0, (None, None))


def client_status(exc: ApiError) -> int:
    """The status a page answers with for the API's refusal of what the user
    asked; a lost session, a refused permission or a server failure is raised on."""
    if exc.status in (401, 403) or exc.status >= 500:
        raise exc
    return exc.status if exc.status in (404, 422) else 400


async def optional_get(
    page: PageContext, what: str, path: str, **params: Any
) -> tuple[Any, str | None]:
    """An answer the page can do without: it, or a message that `what` failed."""
    try:
        return await page.api.get(path, **params), None
    except ApiError as exc:
        if exc.status == 401:
            raise
        return None, f"{what} failed: {exc.message}"


async def queue_backfill(
    page: PageContext,
    market: str,
    *,
    series: dict[str, str],
    csrf_token: str,
    start: str,
    end: str,
    view_range: str,
    view_start: str,
    view_end: str,
    body: Callable[[datetime, datetime], dict[str, Any]],
    render: Callable[..., Awaitable[Response]],
) -> Response:
    """Queue an admin's backfill of `[start, end)` (the API refuses anyone else;
    `body` spells the parsed bounds for it), then go to the view the form came
    from (`series`, e.g. symbol and interval, and the view's range) following
    the job. Otherwise `render` (the page's, given `series` as keywords) shows
    that view again with the message and the typed bounds."""

    async def again(status: int, message: str, errors: dict[str, str] | None) -> Response:
        return await render(
            page,
            **series,
            range_key=view_range,
            start=view_start,
            end=view_end,
            backfill={"start": start, "end": end},
            backfill_errors=errors,
            status_code=status,
            error=message,
        )

    try:
        bounds = parse_time(start, "from"), parse_time(end, "until")
    except BadInput as exc:
        return await again(
            422, exc.message, {"start" if exc.field == "from" else "end": exc.message}
        )
    try:
        queued = await page.api.call(
            "POST",
            f"/api/admin/ingest/{market}/backfill",
            json=body(*bounds),
            csrf_token=csrf_token,
        )
    except ApiError as exc:
        return await again(client_status(exc), f"The backfill was not queued: {exc.message}", None)
    query = series | {
        "range": view_range,
        "start": view_start,
        "end": view_end,
        "job": queued["job_id"],
    }
    target = f"/{market}?" + urlencode({k: v for k, v in query.items() if v})
    return RedirectResponse(target + "#data-quality", status_code=303)
