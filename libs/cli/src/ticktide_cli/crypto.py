"""Crypto loads from the CLI, through the API: a backfill
(`POST /api/admin/ingest/crypto/backfill`, followed at its `status_url`) and the
open gaps of the series afterwards (`GET /api/crypto/quality`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.console import Console

from ticktide_cli.context import CliContext, CliError
from ticktide_cli.progress import follow_job

__all__ = ["run_backfill", "open_gaps", "INTERVAL_STEPS"]

INTERVAL_STEPS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


async def run_backfill(
    ctx: CliContext,
    *,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    timeout: float,
    console: Console,
) -> dict[str, Any]:
    if start >= end:
        raise CliError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
    accepted = await ctx.api.post(
        "/api/admin/ingest/crypto/backfill",
        {
            "symbol": symbol,
            "interval": interval,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    console.print(
        f"backfill job {accepted['job_id']}: {symbol} {interval} "
        f"{start.isoformat()} → {end.isoformat()}"
    )
    return await follow_job(
        ctx,
        accepted["status_url"],
        label=f"{symbol} {interval}",
        estimated_candles=int((end - start) / INTERVAL_STEPS[interval]),
        timeout=timeout,
        console=console,
    )


async def open_gaps(ctx: CliContext, symbol: str, interval: str) -> tuple[int, int]:
    """(open gaps, missing candles) of the series."""
    quality = await ctx.api.get("/api/crypto/quality", symbol=symbol, interval=interval)
    gaps = quality.get("gaps") or []
    return len(gaps), int(quality.get("missing") or sum(g.get("candles", 0) for g in gaps))
