"""Following an ingest job to its end with a progress bar."""

from __future__ import annotations

import asyncio
import time
import uuid

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
from ticktide_common.jobs import JobProgress, get_job_progress

__all__ = ["follow_job"]


async def follow_job(
    ctx: CliContext,
    job_id: uuid.UUID,
    *,
    label: str,
    estimated_candles: int,
    timeout: float,
    console: Console,
    until_stored: bool = False,
    unit: str = "candles",
) -> JobProgress:
    """Poll the job until it is done (or, with `until_stored`, all its candles are
    committed), drawing candles stored against candles expected."""
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=max(estimated_candles, 1))
        while True:
            job = await get_job_progress(ctx.pool, job_id)
            if job is None:
                raise CliError(f"job {job_id} disappeared from ingest_jobs")
            total = job.candles_expected if job.candles_expected is not None else estimated_candles
            bar.update(
                task,
                total=max(total, 1),
                completed=job.candles_stored,
                description=f"{label} [{job.status}]",
            )
            if job.status == "failed":
                raise CliError(f"job {job_id} failed: {job.error}")
            if job.status == "done":
                return job
            if (
                until_stored
                and job.batches_expected is not None
                and job.batches_stored >= job.batches_expected
            ):
                return job
            if time.monotonic() > deadline:
                raise CliError(
                    f"job {job_id} still {job.status} after {timeout:.0f}s "
                    f"({job.candles_stored} {unit} stored); see `ticktide status`"
                )
            await asyncio.sleep(0.3)
