"""`ticktide backtest submit|show`: a batch submitted on the stack's host (the same
validation, planning and queueing as `POST /api/crypto/backtest/batch`), followed
live from its event stream, and a batch's ranked results."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ticktide_backtest_worker.engine.walkforward import LOWER_IS_BETTER
from ticktide_backtest_worker.events import BatchEventLog
from ticktide_cli import repository
from ticktide_cli.context import CliContext, CliError
from ticktide_common.topology import BACKTEST_WORKER_JOBS
from ticktide_gateway.backtest import repository as batch_repository
from ticktide_gateway.backtest.planning import BacktestBatchRequest
from ticktide_gateway.backtest.submission import submit_batch
from ticktide_gateway.validation import InvalidQuery

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


def _events(ctx: CliContext, redis: Redis) -> BatchEventLog:
    s = ctx.settings
    return BatchEventLog(
        redis,
        s.ticktide_redis_prefix,
        maxlen=s.backtest_events_maxlen,
        ttl_seconds=s.backtest_events_ttl_seconds,
    )


async def submit_and_follow(
    ctx: CliContext,
    redis: Redis,
    body: Mapping[str, Any],
    *,
    owner: str | None,
    follow: bool,
    top: int,
    console: Console,
) -> uuid.UUID:
    try:
        request = BacktestBatchRequest.model_validate(body)
    except ValidationError as exc:
        raise CliError("; ".join(e["msg"] for e in exc.errors(include_url=False))) from None
    user = await repository.batch_owner(ctx.pool, owner)
    if user is None:
        raise CliError(
            f"no user {owner!r}"
            if owner
            else "no admin to own the batch: `ticktide user create --admin NAME`, or pass --user"
        )
    await ctx.require_consumer(BACKTEST_WORKER_JOBS, "backtest-worker")
    events = _events(ctx, redis)
    try:
        batch = await submit_batch(
            request, user_id=user, pool=ctx.pool, bus=ctx.bus, events=events, settings=ctx.settings
        )
    except InvalidQuery as exc:
        raise CliError(str(exc)) from None
    console.print(f"batch {batch.batch_id}: {batch.backtests} backtests in {batch.jobs} jobs")
    if follow:
        summary = await _follow(events, str(batch.batch_id), batch.jobs, console)
        _print_ranked(console, summary.get("best") or [], summary.get("rank_by", "sharpe"), top)
    return batch.batch_id


async def _follow(
    events: BatchEventLog, batch_id: str, jobs: int, console: Console
) -> dict[str, Any]:
    after = "0"
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
        while True:
            for entry in await events.read(batch_id, after, block_ms=1000):
                after = entry.id
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
                    console.print(
                        f"[red]job {data.get('job_id')} failed:[/red] {data.get('error')}"
                    )
                elif entry.event == "summary":
                    bar.update(task, completed=jobs)
                    console.print(
                        f"done: {data.get('results')} results, "
                        f"{data.get('jobs_failed', errors)} failed jobs, "
                        f"{data.get('jobs_skipped', 0)} skipped, "
                        f"status {data.get('status')}"
                    )
                    return dict(data)


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


async def show_batch(ctx: CliContext, batch_id: uuid.UUID, *, top: int, console: Console) -> None:
    batch = await repository.backtest_batch(ctx.pool, batch_id)
    if batch is None:
        raise CliError(f"no backtest batch {batch_id}")
    console.print(
        f"batch {batch_id}: {batch['strategy']}, {batch['status']}, "
        f"{batch['done']}/{batch['total_jobs']} jobs finished, created "
        f"{batch['created_at'].isoformat()}"
    )
    rank_by = batch["rank_by"]
    results = await batch_repository.batch_results(
        ctx.pool, batch_id, rank_by, top, lower_is_better=rank_by in LOWER_IS_BETTER
    )
    _print_ranked(console, results, rank_by, top)
