"""Crypto loads from the CLI: a backfill handed to ingest-crypto, and the import of
Binance's public archive files, published as candle batches for the writer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console

from ticktide_cli.context import CliContext, CliError
from ticktide_cli.progress import follow_job
from ticktide_common.jobs import (
    JobProgress,
    batch_id_for,
    create_job,
    mark_job_failed,
    mark_job_fetched,
    request_crypto_backfill,
)
from ticktide_common.messages import CandleBatchV1, CryptoInterval
from ticktide_common.topology import INGEST_CRYPTO_BACKFILLS, WRITER_CANDLES
from ticktide_ingest_crypto.archive import ArchiveError, read_archive

__all__ = ["run_backfill", "run_archive_import", "INTERVAL_STEPS", "ARCHIVE_BATCH_SIZE"]

INTERVAL_STEPS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
ARCHIVE_BATCH_SIZE = 1000


async def run_backfill(
    ctx: CliContext,
    *,
    symbol: str,
    interval: CryptoInterval,
    start: datetime,
    end: datetime,
    timeout: float,
    console: Console,
) -> JobProgress:
    if start >= end:
        raise CliError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
    await ctx.require_consumer(INGEST_CRYPTO_BACKFILLS, "ingest-crypto")
    await ctx.require_consumer(WRITER_CANDLES, "writer")
    job_id = await request_crypto_backfill(
        ctx.pool,
        ctx.bus,
        symbol=symbol,
        interval=interval,
        start=start,
        end=end,
        requested_by="cli",
    )
    console.print(
        f"backfill job {job_id}: {symbol} {interval} {start.isoformat()} → {end.isoformat()}"
    )
    estimate = int((end - start) / INTERVAL_STEPS[interval])
    return await follow_job(
        ctx,
        job_id,
        label=f"{symbol} {interval}",
        estimated_candles=estimate,
        timeout=timeout,
        console=console,
    )


async def run_archive_import(
    ctx: CliContext, path: Path, *, timeout: float, console: Console
) -> JobProgress:
    try:
        archive = read_archive(path)
    except (OSError, ArchiveError) as exc:
        raise CliError(f"{path}: {exc}") from exc
    if not archive.candles:
        raise CliError(f"{path}: the archive holds no candles")
    await ctx.require_consumer(WRITER_CANDLES, "writer")
    candles = sorted(archive.candles, key=lambda c: c.t)
    step = INTERVAL_STEPS[archive.interval]
    interval: CryptoInterval = archive.interval  # type: ignore[assignment]
    job_id = await create_job(
        ctx.pool,
        kind="archive-import",
        symbol=archive.symbol,
        interval=archive.interval,
        start=candles[0].t,
        end=candles[-1].t + step,
        requested_by="cli",
    )
    console.print(
        f"import job {job_id}: {path.name} → {archive.symbol} {archive.interval}, "
        f"{len(candles)} candles {candles[0].t.isoformat()} … "
        f"{candles[-1].t.isoformat()}"
    )
    batches = 0
    try:
        for offset in range(0, len(candles), ARCHIVE_BATCH_SIZE):
            page = candles[offset : offset + ARCHIVE_BATCH_SIZE]
            first_ms = int(page[0].t.timestamp() * 1000)
            await ctx.bus.publish(
                CandleBatchV1(
                    batch_id=batch_id_for(job_id, archive.symbol, archive.interval, first_ms),
                    job_id=job_id,
                    symbol=archive.symbol,
                    interval=interval,
                    source="binance-archive",
                    candles=page,
                )
            )
            batches += 1
    except Exception as exc:
        await mark_job_failed(ctx.pool, job_id, f"publishing failed: {exc}")
        raise CliError(f"{path}: publishing failed after {batches} batches: {exc}") from exc
    await mark_job_fetched(
        ctx.pool, job_id, batches=batches, candles=len(candles), source="binance-archive"
    )
    return await follow_job(
        ctx,
        job_id,
        label=path.name,
        estimated_candles=len(candles),
        timeout=timeout,
        console=console,
        until_stored=True,
    )
