"""`/crypto`: one series (symbol, interval, range) as a candlestick chart with
volume, its statistics and its source; for admins its data quality (gaps, each
with a backfill button) and a backfill form (`POST /crypto/backfill`).

The server renders the statistics and the candle count from the same API
answer the chart's script then asks for itself (the candles are never embedded
in the page); the script draws exactly the stated `[start, end)` and loads
earlier history as the user scrolls left."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.pages import market
from ticktide_web.pages.market import (
    BadInput,
    ChosenRange,
    FormText,
    GapPageQuery,
    QueryText,
    RangeQuery,
    candle_stats,
    choose_range,
    client_status,
    form_time,
    ingest_job,
    iso,
    market_scripts,
    nothing,
    optional_get,
    queue_backfill,
    range_choices,
    windows,
)
from ticktide_web.rendering import PageContext

router = APIRouter()

INTERVALS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
DEFAULT_RANGE = "3m"
MAX_CANDLES_PER_VIEW = 120_000  # six requests of the API's maximum


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _sources(labels: list[str | None]) -> list[str]:
    return sorted({part for label in labels if label for part in label.split("+")})


async def _candles(
    page: PageContext, symbol: str, interval: str, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every candle of `[start, end)`, in windows the API accepts, asked for at once."""
    pieces = windows(start, end, INTERVALS[interval])
    bodies = await asyncio.gather(
        *(
            page.api.get(
                "/api/crypto/prices", symbol=symbol, interval=interval, start=iso(a), end=iso(b)
            )
            for a, b in pieces
        )
    )
    candles = [candle for body in bodies for candle in body["candles"]]
    return candles, _sources([body.get("source") for body in bodies])


async def render_crypto(
    page: PageContext,
    *,
    symbol: str,
    interval: str,
    range_key: str,
    start: str,
    end: str,
    job_id: str = "",
    gap_page: int = 1,
    backfill: dict[str, str] | None = None,
    backfill_errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    listing = (await page.api.get("/api/crypto/symbols"))["symbols"]
    known = {entry["symbol"]: entry for entry in listing}
    symbol = symbol.strip().upper() or ("BTCUSDT" if "BTCUSDT" in known else next(iter(known), ""))
    errors: dict[str, str] = {}
    context: dict[str, Any] = {
        "symbols": listing,
        "symbol": symbol,
        "interval": interval,
        "intervals": list(INTERVALS),
        "ranges": range_choices(),
        "range_key": range_key,
        "start_text": start,
        "end_text": end,
        "errors": errors,
        "chosen": None,
        "candles_count": None,
        "stats": None,
        "sources": [],
        "series": None,
        "quality": None,
        "quality_error": None,
        "job": None,
        "job_error": None,
        "backfill": backfill or {},
        "backfill_errors": backfill_errors or {},
        "empty": False,
        "gaps_shown": [],
        "gap_offset": 0,
        "gap_prev_url": None,
        "gap_next_url": None,
        "reload_url": "/crypto",
    }

    def done(status: int, message: str | None = None) -> Response:
        title = f"{symbol} {interval} · Crypto" if symbol in known else "Crypto"
        return page.render(
            "crypto.html",
            title=title,
            status_code=status,
            error=message,
            scripts=market_scripts(page),
            **context,
        )

    if not known:
        return done(200, "No cryptocurrencies are configured yet.")
    if symbol not in known:
        errors["symbol"] = f"Unknown symbol '{symbol[:24]}'"
        names = ", ".join(known)
        return done(404, f"Unknown symbol '{symbol[:24]}'; choose one of {names}.")
    if interval not in INTERVALS:
        errors["interval"] = f"Interval must be one of {', '.join(INTERVALS)}"
        return done(422, f"Unknown interval '{interval[:8]}'; choose 1h, 4h or 1d.")
    step = INTERVALS[interval]
    series = known[symbol]["intervals"].get(interval)
    context["series"] = series
    first, last = (_when(series["first"]), _when(series["last"])) if series else (None, None)
    try:
        chosen = choose_range(
            range_key,
            start,
            end,
            first=first,
            last_end=last + step if last else None,
            now=datetime.now(UTC),
            default=DEFAULT_RANGE,
            align=step,
        )
    except BadInput as exc:
        errors[exc.field] = exc.message
        return done(422, exc.message)
    context.update(
        reload_url=view_url(symbol, interval, chosen, job=job_id),
        chosen=chosen,
        range_key=chosen.key,
        start_text=form_time(chosen.start),
        end_text=form_time(chosen.end),
    )
    if not context["backfill"]:
        context["backfill"] = {"start": form_time(chosen.start), "end": form_time(chosen.end)}
    slots = math.ceil((chosen.end - chosen.start) / step)
    if slots > MAX_CANDLES_PER_VIEW:
        message = (
            f"This range holds up to {slots} {interval} candles, more than the "
            f"{MAX_CANDLES_PER_VIEW} one view draws; choose a shorter range or a longer interval."
        )
        errors["start"] = message
        return done(422, message)

    admin = page.me is not None and page.me.is_admin
    try:
        (candles, sources), quality, job = await asyncio.gather(
            _candles(page, symbol, interval, chosen.start, chosen.end),
            optional_get(
                page,
                "The data-quality report",
                "/api/crypto/quality",
                symbol=symbol,
                interval=interval,
            )
            if admin
            else nothing(),
            ingest_job(page, job_id) if admin else nothing(),
        )
    except ApiError as exc:
        return done(client_status(exc), exc.message)
    context.update(
        candles_count=len(candles),
        stats=candle_stats(candles),
        sources=sources,
        quality=quality[0],
        quality_error=quality[1],
        job=job[0],
        job_error=job[1],
        empty=not candles,
    )
    if quality[0] is not None:
        context.update(
            market.gap_page(quality[0]["gaps"], gap_page, view_url(symbol, interval, chosen))
        )
    return done(status_code, error)


def view_url(symbol: str, interval: str, chosen: ChosenRange, **extra: str) -> str:
    """The address of this view (the range as chosen: a preset, or Start/End)."""
    return market.view_url("/crypto", {"symbol": symbol, "interval": interval}, chosen, **extra)


@router.get("/crypto")
async def crypto(
    page: PageDep,
    symbol: QueryText = "",
    interval: QueryText = "1h",
    range_key: RangeQuery = "",
    start: QueryText = "",
    end: QueryText = "",
    job: QueryText = "",
    gap_page: GapPageQuery = 1,
) -> Response:
    return await render_crypto(
        page,
        symbol=symbol,
        interval=interval,
        range_key=range_key,
        start=start,
        end=end,
        job_id=job,
        gap_page=gap_page,
    )


@router.post("/crypto/backfill")
async def crypto_backfill(
    page: PageDep,
    csrf_token: FormText = "",
    symbol: FormText = "",
    interval: FormText = "",
    start: FormText = "",
    end: FormText = "",
    view_range: FormText = "",
    view_start: FormText = "",
    view_end: FormText = "",
) -> Response:
    """Queue a backfill of `[start, end)` (an admin's; the API refuses anyone else),
    then show the page again following the job."""
    return await queue_backfill(
        page,
        "crypto",
        series={"symbol": symbol, "interval": interval},
        csrf_token=csrf_token,
        start=start,
        end=end,
        view_range=view_range,
        view_start=view_start,
        view_end=view_end,
        body=lambda first, until: {
            "symbol": symbol,
            "interval": interval,
            "start": iso(first),
            "end": iso(until),
        },
        render=render_crypto,
    )
