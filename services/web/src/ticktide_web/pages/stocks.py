"""`/stocks`: one stock's daily bars over a range as a candlestick chart (a
line of closes where the exchange publishes no open) with volume, its
statistics from `/api/stocks/stats`, the latest session of every stock of its
exchange, and for admins its gaps (missing sessions) with backfill buttons and
a backfill form (`POST /stocks/backfill`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
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
    choose_range,
    client_status,
    form_time,
    ingest_job,
    market_scripts,
    nothing,
    optional_get,
    queue_backfill,
    range_choices,
)
from ticktide_web.rendering import PageContext

router = APIRouter()

DAY = timedelta(days=1)
DEFAULT_RANGE = "1y"
EXCHANGES = {"NASDAQ": "NASDAQ", "OMXH": "Nasdaq Helsinki"}


def _day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC) if value else None


def _bound(value: datetime) -> str:
    """A range bound for the API: the date alone at midnight."""
    return form_time(value)


def view_url(symbol: str, chosen: ChosenRange, **extra: str) -> str:
    return market.view_url("/stocks", {"symbol": symbol}, chosen, **extra)


def _with_until(gap: dict[str, Any]) -> dict[str, Any]:
    """A gap with the day after its last missing session (a backfill's exclusive end)."""
    return gap | {"until": (date.fromisoformat(gap["end"][:10]) + DAY).isoformat()}


async def render_stocks(
    page: PageContext,
    *,
    symbol: str,
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
    asked = symbol.strip().upper()
    # The stock's facts are asked for beside the list when the symbol is given.
    latest, early = await asyncio.gather(
        page.api.get("/api/stocks/latest"),
        optional_get(page, "The stock", "/api/stocks/data", symbol=asked) if asked else nothing(),
    )
    listing = latest["stocks"]
    known = {entry["symbol"]: entry for entry in listing}
    fallback = "AAPL" if "AAPL" in known else next(iter(known), "")
    symbol = symbol.strip().upper() or fallback
    errors: dict[str, str] = {}
    groups = [
        (label, [s for s in listing if s["exchange"] == code]) for code, label in EXCHANGES.items()
    ]
    context: dict[str, Any] = {
        "groups": [(label, items) for label, items in groups if items],
        "symbol": symbol,
        "stock": known.get(symbol),
        "ranges": range_choices(),
        "range_key": range_key,
        "start_text": start,
        "end_text": end,
        "errors": errors,
        "chosen": None,
        "data": None,
        "stats": None,
        "line": False,
        "latest": [],
        "exchange_label": "",
        "quality": None,
        "quality_error": None,
        "job": None,
        "job_error": None,
        "backfill": backfill or {},
        "backfill_errors": backfill_errors or {},
        "gaps_shown": [],
        "gap_offset": 0,
        "gap_prev_url": None,
        "gap_next_url": None,
        "reload_url": "/stocks",
    }

    def done(status: int, message: str | None = None) -> Response:
        return page.render(
            "stocks.html",
            title=f"{symbol} · Stocks" if symbol in known else "Stocks",
            status_code=status,
            error=message,
            scripts=market_scripts(page),
            **context,
        )

    if not known:
        return done(200, "No stocks are configured yet.")
    if symbol not in known:
        errors["symbol"] = f"Unknown symbol '{symbol[:24]}'"
        return done(404, f"Unknown stock symbol '{symbol[:24]}'; choose one from the list.")
    stock = known[symbol]
    context["latest"] = [s for s in listing if s["exchange"] == stock["exchange"]]
    context["exchange_label"] = EXCHANGES.get(stock["exchange"], stock["exchange"])
    data = (
        early[0] if early[0] is not None else await page.api.get("/api/stocks/data", symbol=symbol)
    )
    context["data"] = data
    first, last = _day(data.get("first_date")), _day(data.get("last_date"))
    try:
        chosen = choose_range(
            range_key,
            start,
            end,
            first=first,
            last_end=last + DAY if last else None,
            now=datetime.now(UTC),
            default=DEFAULT_RANGE,
            align=DAY,
        )
    except BadInput as exc:
        errors[exc.field] = exc.message
        return done(422, exc.message)
    context.update(
        chosen=chosen,
        range_key=chosen.key,
        start_text=form_time(chosen.start, with_time=False),
        end_text=form_time(chosen.end, with_time=False),
        reload_url=view_url(symbol, chosen, job=job_id),
        line=(data.get("latest") or {}).get("o", 0) is None,
    )
    if not context["backfill"]:
        context["backfill"] = {
            "start": form_time(chosen.start, with_time=False),
            "end": form_time(chosen.end, with_time=False),
        }
    admin = page.me is not None and page.me.is_admin
    try:
        stats, quality, job = await asyncio.gather(
            page.api.get(
                "/api/stocks/stats",
                symbol=symbol,
                start=_bound(chosen.start),
                end=_bound(chosen.end),
            ),
            optional_get(page, "The gaps report", "/api/stocks/quality", symbol=symbol)
            if admin
            else nothing(),
            ingest_job(page, job_id) if admin else nothing(),
        )
    except ApiError as exc:
        return done(client_status(exc), exc.message)
    context.update(
        stats=stats,
        quality=quality[0],
        quality_error=quality[1],
        job=job[0],
        job_error=job[1],
    )
    if quality[0] is not None:
        context.update(
            market.gap_page(quality[0]["gaps"], gap_page, view_url(symbol, chosen), _with_until)
        )
    return done(status_code, error)


@router.get("/stocks")
async def stocks(
    page: PageDep,
    symbol: QueryText = "",
    range_key: RangeQuery = "",
    start: QueryText = "",
    end: QueryText = "",
    job: QueryText = "",
    gap_page: GapPageQuery = 1,
) -> Response:
    return await render_stocks(
        page,
        symbol=symbol,
        range_key=range_key,
        start=start,
        end=end,
        job_id=job,
        gap_page=gap_page,
    )


@router.post("/stocks/backfill")
async def stocks_backfill(
    page: PageDep,
    csrf_token: FormText = "",
    symbol: FormText = "",
    start: FormText = "",
    end: FormText = "",
    view_range: FormText = "",
    view_start: FormText = "",
    view_end: FormText = "",
) -> Response:
    """Queue a backfill of the trading days in `[start, end)`, then follow the job."""
    return await queue_backfill(
        page,
        "stocks",
        series={"symbol": symbol},
        csrf_token=csrf_token,
        start=start,
        end=end,
        view_range=view_range,
        view_start=view_start,
        view_end=view_end,
        body=lambda first, until: {
            "symbol": symbol,
            "start": first.date().isoformat(),
            "end": until.date().isoformat(),
        },
        render=render_stocks,
    )
