"""Stock and weather loads from the CLI, through the API: backfills
(`POST /api/admin/ingest/{stocks,weather}/backfill`) followed at their
`status_url` until their rows are stored (or have failed). The gateway checks
the symbols, the location and the range (404 / 422 with the reason)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from rich.console import Console

from ticktide_cli.context import CliContext, CliError
from ticktide_cli.progress import follow_job

__all__ = ["run_stocks_backfill", "run_weather_backfill", "open_stock_gaps"]

# About 252 sessions in 365 days: the estimate the progress bar starts from.
_SESSIONS_PER_DAY = 252 / 365


async def run_stocks_backfill(
    ctx: CliContext,
    symbols: list[str],
    *,
    start: date,
    end: date,
    timeout: float,
    console: Console,
) -> list[dict[str, Any]]:
    """One job per symbol, all queued first, then followed one by one."""
    if start >= end:
        raise CliError(f"--start {start} must be before --end {end}")
    jobs = []
    for symbol in symbols:
        accepted = await ctx.api.post(
            "/api/admin/ingest/stocks/backfill",
            {"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()},
        )
        console.print(f"backfill job {accepted['job_id']}: {symbol} {start} → {end}")
        jobs.append((symbol, accepted["status_url"]))
    estimate = int((end - start).days * _SESSIONS_PER_DAY)
    return [
        await follow_job(
            ctx,
            status_url,
            label=symbol,
            estimated_candles=estimate,
            timeout=timeout,
            console=console,
            unit="bars",
        )
        for symbol, status_url in jobs
    ]


async def open_stock_gaps(ctx: CliContext, symbol: str) -> tuple[int, int]:
    """(open gaps, missing sessions) of the stock."""
    quality = await ctx.api.get("/api/stocks/quality", symbol=symbol)
    gaps = [g for g in quality.get("gaps") or [] if g.get("status") == "open"]
    return len(gaps), int(quality.get("open") or 0)


async def run_weather_backfill(
    ctx: CliContext,
    location: str,
    *,
    start: datetime,
    end: datetime,
    timeout: float,
    console: Console,
) -> dict[str, Any]:
    start = start.replace(minute=0, second=0, microsecond=0)
    if end.minute or end.second or end.microsecond:
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start >= end:
        raise CliError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
    accepted = await ctx.api.post(
        "/api/admin/ingest/weather/backfill",
        {"location": location, "start": start.isoformat(), "end": end.isoformat()},
    )
    console.print(
        f"backfill job {accepted['job_id']}: {location} {start.isoformat()} → {end.isoformat()}"
    )
    return await follow_job(
        ctx,
        accepted["status_url"],
        label=location,
        estimated_candles=int((end - start) / timedelta(hours=1)),
        timeout=timeout,
        console=console,
        unit="hours",
    )
