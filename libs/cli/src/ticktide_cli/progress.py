"""Following an ingest job to its end with a progress bar, by polling its
`status_url` (`GET /api/admin/ingest/jobs/{id}`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ticktide_cli.context import CliContext, CliError

__all__ = ["follow_job", "bar_columns"]


def bar_columns(unit: str) -> tuple[Any, ...]:
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def job_stored(job: dict[str, Any]) -> bool:
    """All of the job's batches are committed (an import is then as good as done)."""
    expected = job.get("batches_expected")
    return expected is not None and int(job.get("batches_stored") or 0) >= int(expected)


async def follow_job(
    ctx: CliContext,
    status_url: str,
    *,
    label: str,
    estimated_candles: int,
    timeout: float,
    console: Console,
    until_stored: bool = False,
    unit: str = "candles",
) -> dict[str, Any]:
    """Poll the job until it is done (or, with `until_stored`, all its candles are
    committed), drawing candles stored against candles expected; the job's JSON."""
    deadline = time.monotonic() + timeout
    with Progress(*bar_columns(unit), console=console, transient=False) as bar:
        task = bar.add_task(label, total=max(estimated_candles, 1))
        while True:
            job = await ctx.api.get(status_url)
            expected = job.get("candles_expected")
            total = expected if expected is not None else estimated_candles
            bar.update(
                task,
                total=max(int(total), 1),
                completed=int(job.get("candles_stored") or 0),
                description=f"{label} [{job['status']}]",
            )
            if job["status"] == "failed":
                raise CliError(f"job {job['job_id']} failed: {job.get('error')}")
            if job["status"] == "done" or (until_stored and job_stored(job)):
                return dict(job)
            if time.monotonic() > deadline:
                raise CliError(
                    f"job {job['job_id']} still {job['status']} after {timeout:.0f}s "
                    f"({job.get('candles_stored')} {unit} stored); see `ticktide status`"
                )
            await asyncio.sleep(0.3)
