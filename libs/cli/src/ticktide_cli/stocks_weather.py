"""Stock and weather loads from the CLI: backfill commands handed to ingest-stocks
and ingest-weather, followed until their rows are stored (or have failed)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rich.console import Console

from ticktide_cli.context import CliContext, CliError
from ticktide_cli.progress import follow_job
from ticktide_cli.repository import stock_exchanges, weather_location_names
from ticktide_common.jobs import JobProgress, request_stocks_backfill, request_weather_backfill
from ticktide_common.topology import (
    INGEST_STOCKS_BACKFILLS,
    INGEST_WEATHER_BACKFILLS,
    WRITER_STOCKS,
    WRITER_WEATHER,
)

__all__ = ["run_stocks_backfill", "run_weather_backfill", "resolve_location"]

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
) -> list[JobProgress]:
    """One job per symbol, all queued first, then followed one by one."""
    if start >= end:
        raise CliError(f"--start {start} must be before --end {end}")
    if (end - start).days > ctx.settings.max_backfill_days:
        raise CliError(f"at most {ctx.settings.max_backfill_days} days per backfill")
    known = await stock_exchanges(ctx.pool)
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise CliError(
            f"unknown stock symbol(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    await ctx.require_consumer(INGEST_STOCKS_BACKFILLS, "ingest-stocks")
    await ctx.require_consumer(WRITER_STOCKS, "writer")
    jobs = []
    for symbol in symbols:
        job_id = await request_stocks_backfill(
            ctx.pool,
            ctx.bus,
            symbol=symbol,
            exchange=known[symbol],  # type: ignore[arg-type]
            start=start,
            end=end,
            requested_by="cli",
        )
        console.print(f"backfill job {job_id}: {symbol} ({known[symbol]}) {start} → {end}")
        jobs.append((symbol, job_id))
    estimate = int((end - start).days * _SESSIONS_PER_DAY)
    return [
        await follow_job(
            ctx,
            job_id,
            label=symbol,
            estimated_candles=estimate,
            timeout=timeout,
            console=console,
            unit="bars",
        )
        for symbol, job_id in jobs
    ]


async def resolve_location(ctx: CliContext, name: str) -> str:
    """The configured location's canonical name (matched case-insensitively)."""
    names = await weather_location_names(ctx.pool)
    for known in names:
        if known.lower() == name.strip().lower():
            return known
    raise CliError(f"unknown location {name!r}; known: {', '.join(names) or 'none'}")


async def run_weather_backfill(
    ctx: CliContext,
    location: str,
    *,
    start: datetime,
    end: datetime,
    timeout: float,
    console: Console,
) -> JobProgress:
    start = start.replace(minute=0, second=0, microsecond=0)
    if end.minute or end.second or end.microsecond:
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start >= end:
        raise CliError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
    if end - start > timedelta(days=ctx.settings.max_weather_backfill_days):
        raise CliError(f"at most {ctx.settings.max_weather_backfill_days} days per backfill")
    name = await resolve_location(ctx, location)
    await ctx.require_consumer(INGEST_WEATHER_BACKFILLS, "ingest-weather")
    await ctx.require_consumer(WRITER_WEATHER, "writer")
    job_id = await request_weather_backfill(
        ctx.pool, ctx.bus, location=name, start=start, end=end, requested_by="cli"
    )
    console.print(f"backfill job {job_id}: {name} {start.isoformat()} → {end.isoformat()}")
    return await follow_job(
        ctx,
        job_id,
        label=name,
        estimated_candles=int((end - start) / timedelta(hours=1)),
        timeout=timeout,
        console=console,
        unit="hours",
    )
