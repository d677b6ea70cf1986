"""`ticktide backtest submit|show`, through the API: a batch submitted as the
calling user (`POST /api/crypto/backtest/batch`), followed live on its event
stream (`events_url`, resumed with Last-Event-ID when the connection drops),
and a batch's status and ranked results (`GET /api/crypto/backtest/batch/{id}`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ticktide_cli.context import CliContext, CliError

__all__ = ["parse_grid", "submit_and_follow", "show_batch"]

SHOWN_METRICS = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "final_equity")


def parse_grid(items: Sequence[str]) -> dict[str, Any]:
    """`fast=5:50:5` (a range, stop inclusive) or `slow=50,100,200` (a list)."""
    grid: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise CliError(f"--grid {item!r}: write NAME=START:STOP:STEP or NAME=V1,V2,...")
        value = value.strip()
        if ":" in value:
            grid[name.strip()] = value
            continue
        try:
            grid[name.strip()] = [float(v) if "." in v else int(v) for v in value.split(",")]
        except ValueError:
            raise CliError(f"--grid {item!r}: values must be numbers") from None
    return grid


async def submit_and_follow(
    ctx: CliContext, body: Mapping[str, Any], *, follow: bool, top: int, console: Console
) -> str:
    batch = await ctx.api.post("/api/crypto/backtest/batch", dict(body))
    backtests = batch.get("backtests")
    console.print(
        f"batch {batch['batch_id']}: "
        + (f"{backtests} backtests in " if backtests is not None else "")
        + f"{batch['jobs']} jobs"
    )
    if follow:
        summary = await _follow(ctx, batch["events_url"], int(batch["jobs"]), console)
        _print_ranked(console, summary.get("best") or [], summary.get("rank_by", "sharpe"), top)
    return str(batch["batch_id"])


async def _follow(ctx: CliContext, events_url: str, jobs: int, console: Console) -> dict[str, Any]:
    errors = 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("jobs"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("backtests", total=jobs, eta="")
        async for entry in ctx.api.events(events_url):
            data = json.loads(entry.data) if entry.data else {}
            if entry.event == "progress":
                eta = data.get("eta_seconds")
                bar.update(
                    task,
                    completed=data.get("done", 0),
                    eta=f"eta {eta:.0f}s" if isinstance(eta, int | float) else "",
                )
            elif entry.event == "error":
                errors += 1
                console.print(f"[red]job {data.get('job_id')} failed:[/red] {data.get('error')}")
            elif entry.event == "summary":
                bar.update(task, completed=jobs)
                console.print(
                    f"done: {data.get('results')} results, "
                    f"{data.get('jobs_failed', errors)} failed jobs, "
                    f"{data.get('jobs_skipped', 0)} skipped, "
                    f"status {data.get('status')}"
                )
                return dict(data)
    raise CliError(f"the event stream {events_url} ended before the batch's summary")


def _print_ranked(
    console: Console, results: Sequence[Mapping[str, Any]], rank_by: str, top: int
) -> None:
    table = Table(title=f"best by {rank_by}")
    for column in ("#", "symbol", "interval", "params", *SHOWN_METRICS):
        table.add_column(column)
    for rank, result in enumerate(results[:top], start=1):
        metrics = result.get("metrics") or {}
        table.add_row(
            str(rank),
            str(result.get("symbol")),
            str(result.get("interval")),
            " ".join(f"{k}={v}" for k, v in (result.get("params") or {}).items()),
            *(_cell(metrics.get(name)) for name in SHOWN_METRICS),
        )
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


async def show_batch(ctx: CliContext, batch_id: str, *, top: int, console: Console) -> None:
    batch = await ctx.api.get(f"/api/crypto/backtest/batch/{batch_id}", limit=top)
    jobs = batch["jobs"]
    finished = int(jobs["done"]) + int(jobs["failed"]) + int(jobs["skipped"])
    console.print(
        f"batch {batch_id}: {batch['strategy']}, {batch['status']}, "
        f"{finished}/{jobs['total']} jobs finished, created {batch['created_at']}"
    )
    _print_ranked(console, batch.get("results") or [], batch["rank_by"], top)
