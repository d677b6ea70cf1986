"""`ticktide import binance-archive FILE...`: many files uploaded at once
(`POST /api/admin/ingest/crypto/archive`, at most `concurrency` in flight), all
their jobs followed together (`POST /api/admin/ingest/crypto/archive/jobs`), one
progress bar for the whole run (candles stored / candles accepted) and a
verdict per file at the end. A file's `.CHECKSUM` beside it is sent along and
verified by the server."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ticktide_cli.api_client import ApiError
from ticktide_cli.context import CliContext, CliError
from ticktide_cli.progress import bar_columns, job_stored

__all__ = ["FileVerdict", "run_archive_import", "print_verdicts", "ARCHIVE_PATH"]

ARCHIVE_PATH = "/api/admin/ingest/crypto/archive"
_POLL_SECONDS = 0.25
_JOBS_PER_POLL = 1000
_BUSY_RETRIES = 60  # 429 answers per file before it is given up
_FATAL = frozenset({401, 403})


@dataclass
class FileVerdict:
    path: Path
    verdict: str = "pending"  # stored | failed | refused
    series: str = ""
    candles: int = 0
    stored: int = 0
    job_id: str | None = None
    detail: str = ""


def _checksum(path: Path) -> str | None:
    """The hex digest of `path`'s `.CHECKSUM` file, None when there is none."""
    checksum = path.with_name(path.name + ".CHECKSUM")
    if not checksum.is_file():
        return None
    parts = checksum.read_text(errors="replace").split()
    if not parts or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
        raise CliError(f"{checksum}: does not start with a SHA-256 digest")
    if len(parts) > 1 and parts[1].lstrip("*") != path.name:
        raise CliError(f"{checksum}: is for {parts[1]!r}, not {path.name}")
    return parts[0].lower()


class _Run:
    def __init__(self, ctx: CliContext, files: list[Path], concurrency: int) -> None:
        self.ctx = ctx
        self.verdicts = [FileVerdict(path) for path in files]
        self.slots = asyncio.Semaphore(concurrency)
        self.pending: dict[str, FileVerdict] = {}
        self.uploading = len(files)

    async def upload(self, verdict: FileVerdict) -> None:
        async with self.slots:
            try:
                checksum = _checksum(verdict.path)
                data = await asyncio.to_thread(verdict.path.read_bytes)
            except (OSError, CliError) as exc:
                verdict.verdict, verdict.detail = "refused", str(exc)
                return
            params: dict[str, Any] = {"filename": verdict.path.name}
            if checksum:
                params["sha256"] = checksum
            for attempt in range(_BUSY_RETRIES + 1):
                try:
                    answer = await self.ctx.api.upload(
                        ARCHIVE_PATH, data, "application/zip", **params
                    )
                    break
                except ApiError as exc:
                    if exc.status in _FATAL:
                        raise
                    if exc.status in (429, 503) and attempt < _BUSY_RETRIES:
                        await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
                        continue
                    verdict.verdict, verdict.detail = "refused", exc.detail or str(exc)
                    return
            verdict.series = f"{answer['symbol']} {answer['interval']}"
            verdict.candles = int(answer["candles"])
            verdict.job_id = str(answer["job_id"])
            self.pending[verdict.job_id] = verdict

    async def upload_all(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for verdict in self.verdicts:
                    group.create_task(self.upload(verdict))
        except* ApiError as failures:
            raise failures.exceptions[0] from None
        finally:
            self.uploading = 0

    async def poll(self) -> None:
        ids = list(self.pending)
        for offset in range(0, len(ids), _JOBS_PER_POLL):
            answer = await self.ctx.api.post(
                f"{ARCHIVE_PATH}/jobs", {"job_ids": ids[offset : offset + _JOBS_PER_POLL]}
            )
            for job in answer["jobs"]:
                verdict = self.pending.get(job["job_id"])
                if verdict is None:
                    continue
                verdict.stored = int(job.get("candles_stored") or 0)
                if job["status"] == "failed":
                    verdict.verdict, verdict.detail = "failed", str(job.get("error"))
                elif job["status"] == "done" or job_stored(job):
                    verdict.verdict, verdict.stored = "stored", verdict.candles
                if verdict.verdict != "pending":
                    del self.pending[job["job_id"]]


async def run_archive_import(
    ctx: CliContext, files: list[Path], *, concurrency: int, timeout: float, console: Console
) -> list[FileVerdict]:
    """Upload and follow every file; the verdicts, in the order of `files`."""
    run = _Run(ctx, files, concurrency)
    deadline = time.monotonic() + timeout
    with Progress(*bar_columns("candles"), console=console, transient=False) as bar:
        task = bar.add_task(f"{len(files)} file(s)", total=None)
        uploads = asyncio.create_task(run.upload_all())
        try:
            while True:
                done = uploads.done()
                if done:
                    uploads.result()  # a fatal refusal (401/403) ends the run here
                if run.pending:
                    await run.poll()
                accepted = sum(v.candles for v in run.verdicts)
                stored = sum(v.stored for v in run.verdicts)
                uploaded = sum(1 for v in run.verdicts if v.job_id or v.verdict != "pending")
                bar.update(
                    task,
                    total=max(accepted, 1),
                    completed=stored,
                    description=f"{uploaded}/{len(files)} file(s) sent",
                )
                if done and not run.pending:
                    break
                if time.monotonic() > deadline:
                    for verdict in run.pending.values():
                        verdict.verdict = "failed"
                        verdict.detail = f"not stored after {timeout:.0f}s; see `ticktide status`"
                    break
                await asyncio.sleep(_POLL_SECONDS)
        finally:
            if not uploads.done():
                uploads.cancel()
                await asyncio.gather(uploads, return_exceptions=True)
    return run.verdicts


def print_verdicts(console: Console, verdicts: list[FileVerdict]) -> None:
    table = Table(title="archive import")
    for column in ("file", "series", "candles", "verdict"):
        table.add_column(column)
    for v in verdicts:
        colour = "green" if v.verdict == "stored" else "red"
        text = f"[{colour}]{v.verdict}[/{colour}]" + (f": {v.detail}" if v.detail else "")
        table.add_row(v.path.name, v.series, str(v.candles), text)
    console.print(table)
    stored = [v for v in verdicts if v.verdict == "stored"]
    console.print(
        f"imported {sum(v.candles for v in stored)} candles from {len(stored)} of "
        f"{len(verdicts)} file(s)"
    )
