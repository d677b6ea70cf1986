"""`ticktide status`: services, queues, stored series and recent jobs at a glance."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.table import Table

from ticktide_cli.context import CliContext
from ticktide_cli.repository import (
    recent_jobs,
    series_summary,
    stock_series_summary,
    weather_series_summary,
)
from ticktide_common.topology import Topology

__all__ = ["show_status"]


async def _service_rows(ctx: CliContext) -> list[tuple[str, str, str]]:
    s = ctx.settings
    targets = {
        "gateway": f"http://{s.service_host}:{s.gateway_port}",
        "auth": s.auth_url,
        "ingest-crypto": s.ingest_crypto_url,
        "ingest-stocks": s.ingest_stocks_url,
        "ingest-weather": s.ingest_weather_url,
        "writer": s.writer_url,
    }
    rows = []
    async with httpx.AsyncClient(timeout=2.0) as client:
        for name, url in targets.items():
            try:
                response = await client.get(f"{url}/ready")
                ready = response.status_code == 200
                state = "ready" if ready else f"not ready ({response.text[:80]})"
            except httpx.HTTPError as exc:
                state = f"down ({type(exc).__name__})"
            rows.append((name, url, state))
    return rows


async def show_status(ctx: CliContext, console: Console) -> bool:
    """Print the report; True when every service is ready."""
    services = Table(title="services")
    for column in ("service", "url", "state"):
        services.add_column(column)
    rows = await _service_rows(ctx)
    for row in rows:
        services.add_row(*row)
    console.print(services)

    topology: Topology = ctx.bus.topology
    queues = Table(title="queues")
    for column in ("queue", "ready", "consumers", "dead-lettered"):
        queues.add_column(column)
    for spec in topology.queues:
        ready, consumers = await ctx.bus.queue_status(spec)
        dead = await _dlq_depth(ctx, spec)
        queues.add_row(topology.queue_name(spec), str(ready), str(consumers), str(dead))
    console.print(queues)

    series = Table(title="crypto series")
    for column in ("symbol", "interval", "candles", "first", "last", "source"):
        series.add_column(column)
    for r in await series_summary(ctx.pool):
        series.add_row(
            r["symbol"],
            r["interval"],
            str(r["candles"]),
            r["first"].isoformat(),
            r["last"].isoformat(),
            r["sources"],
        )
    console.print(series)

    stocks = Table(title="stocks (daily)")
    for column in ("symbol", "exchange", "bars", "first", "last", "source"):
        stocks.add_column(column)
    for r in await stock_series_summary(ctx.pool):
        stocks.add_row(
            r["symbol"],
            r["exchange"],
            str(r["bars"]),
            r["first"].date().isoformat(),
            r["last"].date().isoformat(),
            r["sources"],
        )
    console.print(stocks)

    weather = Table(title="weather history (hourly)")
    for column in ("location", "hours", "first", "last", "source"):
        weather.add_column(column)
    for r in await weather_series_summary(ctx.pool):
        weather.add_row(
            r["location"],
            str(r["hours"]),
            r["first"].isoformat(),
            r["last"].isoformat(),
            r["sources"],
        )
    console.print(weather)

    jobs = Table(title="recent ingest jobs")
    for column in ("job", "kind", "series", "status", "stored/expected", "created"):
        jobs.add_column(column)
    for r in await recent_jobs(ctx.pool):
        expected = "?" if r["candles_expected"] is None else str(r["candles_expected"])
        jobs.add_row(
            str(r["id"])[:8],
            r["kind"],
            f"{r['domain']} {r['symbol']} {r['interval_type']}",
            r["status"] + (f": {r['error'][:60]}" if r["error"] else ""),
            f"{r['candles_stored']}/{expected}",
            r["created_at"].isoformat(),
        )
    console.print(jobs)
    return all(state == "ready" for _, _, state in rows)


async def _dlq_depth(ctx: CliContext, spec) -> int:  # type: ignore[no-untyped-def]
    channel = await ctx.bus.connection.channel()
    try:
        queue = await channel.declare_queue(ctx.bus.topology.dlq_name(spec), passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await channel.close()
