"""The ingest logic of crypto: running backfill commands, finalizing stored
jobs, recording and refilling gaps. No I/O of its own: SQL in `repository`,
HTTP in `client`.

`CryptoIngester.handle_backfill` runs one `CryptoBackfillRequestedV1` through
`ticktide_common.ingest_lifecycle.run_ingest_job` (domain "crypto"): a
done/failed job is skipped; otherwise the job runs, each Binance page is
published as a `CandleBatchV1` with a deterministic batch id
(`ticktide_common.jobs.batch_id_for`: a redelivered command publishes the same
ids, which the writer recognises), then the job is `fetched` with the number of
batches and candles, and finalizing is attempted. A command starting before
Binance's history (`crypto_history_start`) or ending after now plus
`backfill_max_ahead_days` fails at once (the gateway refuses those too). When
Binance is unreachable and the simulated fallback is on, the rest of the range
comes from the simulated source instead (labelled `simulated`) — never for a
gap refill: a hole is filled with real candles or stays open (the refill fails
and the gap is retried later), as in ingest-stocks.

Completion (the lifecycle's `JobCompleter`, with `crypto_finalize_stale_seconds`)
runs gap detection over the whole series, the `crypto_gaps` upsert and
gap-refill jobs for open gaps (not from a gap-refill job itself), then `done`.
An archive import (not a Binance fetch) starts no refill, and detects gaps only
when it is the last archive import of its series to finish: once per series for
a run of many files, not once per file. Its stored event closes it in one
transaction (`finalize_import`: series lock, then claim, done and the count of
the series' unfinished imports in one statement, then detection if none);
the sweep closes one through the completer's claim like any other job.
It runs on every `CandlesStoredV1`, right after `fetched`, and in the periodic
`maintain` pass, which also retries open gaps once `crypto_gap_retry_seconds`
have passed. One refill job fetches at most `max_backfill_candles` bars of a
gap, from the history start on and from where earlier refills of it stopped
(`refill_window`); what is left is logged and fetched by the next attempts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.dates import DateOutOfRange, check_backfill_bounds, day_start
from ticktide_common.errors import PermanentError
from ticktide_common.import_jobs import finish_import
from ticktide_common.ingest_lifecycle import (
    FetchResult,
    JobCompleter,
    JobRow,
    claim_gap_attempt,
    commanded_job,
    run_ingest_job,
)
from ticktide_common.jobs import batch_id_for, request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    CandleBatchV1,
    CandlesStoredV1,
    CandleV1,
    CryptoBackfillRequestedV1,
)
from ticktide_ingest_crypto import repository as repo
from ticktide_ingest_crypto.archive import ARCHIVE_SOURCE
from ticktide_ingest_crypto.client import MAX_LIMIT, BinanceClient, BinanceUnavailableError
from ticktide_ingest_crypto.gaps import (
    align_down,
    align_up,
    datetime_to_ms,
    interval_ms,
    ms_to_datetime,
    refill_window,
)
from ticktide_ingest_crypto.settings import IngestCryptoSettings
from ticktide_ingest_crypto.simulated import SIMULATED_SOURCE, simulated_candles

__all__ = ["CryptoIngester"]

log = get_logger(__name__)

# An archive import of the same series still unfinished this long after it was
# created no longer holds back gap detection (a crash left it).
_IMPORT_PENDING_STALE_SECONDS = 3600.0


@dataclass(kw_only=True, eq=False)
class CryptoIngester:
    """Backfill commands, stored events, gap bookkeeping of the crypto domain."""

    pool: asyncpg.Pool
    bus: Bus
    client: BinanceClient
    settings: IngestCryptoSettings
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        stale = self.settings.crypto_finalize_stale_seconds
        self.completer = JobCompleter(self.pool, "crypto", stale, self._on_complete)
        self._crypto_ids: dict[str, int] = {}

    # ---- commands and events ---------------------------------------------
    async def handle_backfill(self, command: CryptoBackfillRequestedV1) -> None:
        job = commanded_job(
            command, "crypto", command.symbol, command.interval, command.start, command.end
        )

        async def fetch(stored: JobRow) -> FetchResult:
            self.check_bounds(command)
            gap_refill = "gap-refill" in (job.kind, stored.kind)
            return await self.fetch_history(command, simulated_allowed=not gap_refill)

        attempts = min(self.settings.crypto_fetch_max_attempts, self.settings.bus_delivery_limit)
        await run_ingest_job(self.pool, job, fetch, self.completer, attempts, command.requested_by)

    async def on_stored(self, event: CandlesStoredV1) -> None:
        if event.job_id is None:
            return
        if event.source == ARCHIVE_SOURCE and await self.finalize_import(
            event.job_id, event.symbol, event.interval
        ):
            return
        await self.completer.try_finalize(event.job_id)

    async def maintain(self) -> None:
        """The periodic pass: finish jobs any race left unfinished, then refill
        open gaps that are due (independent of the scheduler being enabled)."""
        await self.completer.sweep()
        await self.request_refills()

    # ---- gaps ----------------------------------------------------------------
    async def _on_complete(self, job: JobRow) -> None:
        if job.kind == "archive-import":
            await self._complete_import(job)
            return
        gaps = await self.record_gaps(job.symbol, job.interval)
        if job.kind != "gap-refill":
            await self.request_refills(symbol=job.symbol, interval=job.interval)
        log.info(
            "ingest.gaps_recorded",
            job_id=str(job.id),
            symbol=job.symbol,
            interval=job.interval,
            open_gaps=len(gaps.still_open) if gaps else 0,
            refilled_gaps=len(gaps.refilled) if gaps else 0,
        )

    async def finalize_import(self, job_id: uuid.UUID, symbol: str, interval: str) -> bool:
        """Close the archive import `job_id` of the series (`symbol`, `interval`),
        as a stored event names it, if every batch of it is stored: the claim, the
        close and the gap detection in one transaction (no 'finalizing' step that
        a crash could leave behind: a rollback leaves it `fetched` for the next
        event or the sweep). False when no such import was ready (not ready yet,
        taken, done, or another kind or series: the completer's path then runs)."""
        crypto_id = await self.crypto_id(symbol)
        if crypto_id is None:
            return False
        return await self._finish_import(job_id, symbol, interval, crypto_id, claimed=False)

    async def _complete_import(self, job: JobRow) -> None:
        """An archive import the completer claimed (the sweep's path; a stored
        event takes `finalize_import`). Either way it is no Binance fetch: it
        never starts a refill."""
        crypto_id = await self.crypto_id(job.symbol)
        if crypto_id is None:
            return
        await self._finish_import(job.id, job.symbol, job.interval, crypto_id, claimed=True)

    async def _finish_import(
        self, job_id: uuid.UUID, symbol: str, interval: str, crypto_id: int, *, claimed: bool
    ) -> bool:
        """The series' gaps are detected once, by the last import of the series to
        finish, not once per file: under the series lock, an import that finds
        another import of its series unfinished is marked done without detecting,
        in the same transaction, so the last one to take the lock finds every
        other done and detects over all of them. False when the job was not
        marked (not ready, or not this series' import)."""
        gaps = None
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_series(conn, crypto_id, interval)
            others = await finish_import(
                conn,
                job_id,
                symbol=symbol,
                interval=interval,
                claimed=claimed,
                stale_seconds=self.settings.crypto_finalize_stale_seconds,
                pending_stale_seconds=_IMPORT_PENDING_STALE_SECONDS,
            )
            if others is None:
                return False
            if not others:
                holes = await repo.detect_gaps(conn, crypto_id, interval)
                gaps = await repo.upsert_gaps(conn, crypto_id, interval, holes)
        if gaps is None:
            log.info(
                "ingest.gaps_deferred",
                job_id=str(job_id),
                symbol=symbol,
                interval=interval,
                imports_unfinished=others,
            )
        else:
            log.info(
                "ingest.gaps_recorded",
                job_id=str(job_id),
                symbol=symbol,
                interval=interval,
                open_gaps=len(gaps.still_open),
                refilled_gaps=len(gaps.refilled),
            )
        if not claimed:  # the completer logs the jobs it closes
            log.info("ingest.job_done", job_id=str(job_id), domain="crypto", kind="archive-import")
        return True

    async def crypto_id(self, symbol: str) -> int | None:
        """The `cryptocurrencies` id of a pair, looked up once per process (ids
        never change; an unknown pair is asked again, it may be added)."""
        crypto_id = self._crypto_ids.get(symbol)
        if crypto_id is None:
            crypto_id = await repo.crypto_id_for_symbol(self.pool, symbol)
            if crypto_id is not None:
                self._crypto_ids[symbol] = crypto_id
        return crypto_id

    async def record_gaps(self, symbol: str, interval: str) -> repo.SeriesGaps | None:
        """Detect the holes of a series and bring `crypto_gaps` up to date."""
        crypto_id = await self.crypto_id(symbol)
        if crypto_id is None:
            return None
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_series(conn, crypto_id, interval)
            holes = await repo.detect_gaps(conn, crypto_id, interval)
            return await repo.upsert_gaps(conn, crypto_id, interval, holes)

    async def request_refills(
        self, *, symbol: str | None = None, interval: str | None = None
    ) -> list[uuid.UUID]:
        """Gap-refill jobs for open gaps that are due (each claimed atomically)."""
        retry = self.settings.crypto_gap_retry_seconds
        due = await repo.open_gaps_due(
            self.pool,
            retry_seconds=retry,
            max_attempts=self.settings.crypto_gap_max_refill_attempts,
            symbol=symbol,
            interval=interval,
        )
        jobs: list[uuid.UUID] = []
        for gap in due:
            if not await claim_gap_attempt(self.pool, "crypto_gaps", gap.id, retry):
                continue
            newest = await repo.last_open_time_between(
                self.pool, gap.symbol, gap.interval, gap.start, gap.end
            )
            window = refill_window(
                datetime_to_ms(gap.start),
                datetime_to_ms(gap.end),
                gap.interval,
                history_start_ms=datetime_to_ms(day_start(self.settings.crypto_history_start)),
                resume_ms=(datetime_to_ms(newest) + interval_ms(gap.interval) if newest else None),
                max_candles=self.settings.max_backfill_candles,
            )
            if window is None:
                log.warning(
                    "ingest.gap_refill_skipped",
                    symbol=gap.symbol,
                    interval=gap.interval,
                    start=gap.start.isoformat(),
                    end=gap.end.isoformat(),
                    reason="nothing of the gap lies after the history start "
                    f"{self.settings.crypto_history_start.isoformat()}",
                )
                continue
            start, end = ms_to_datetime(window.start_ms), ms_to_datetime(window.end_ms)
            job_id = await request_backfill(
                self.pool,
                self.bus,
                CryptoBackfillRequestedV1(
                    job_id=uuid.uuid4(),
                    symbol=gap.symbol,
                    interval=gap.interval,  # type: ignore[arg-type]
                    start=start,
                    end=end,
                    requested_by="gap-refill",
                ),
                kind="gap-refill",
            )
            log.info(
                "ingest.gap_refill_requested",
                job_id=str(job_id),
                symbol=gap.symbol,
                interval=gap.interval,
                start=start.isoformat(),
                end=end.isoformat(),
                candles=window.candles,
                attempt=gap.refill_attempts + 1,
            )
            if window.left:
                log.warning(
                    "ingest.gap_refill_capped",
                    job_id=str(job_id),
                    symbol=gap.symbol,
                    interval=gap.interval,
                    max_candles=self.settings.max_backfill_candles,
                    left_start=end.isoformat(),
                    left_end=gap.end.isoformat(),
                    left_candles=window.left,
                )
            jobs.append(job_id)
        return jobs

    # ---- fetching ----------------------------------------------------------
    def check_bounds(self, command: CryptoBackfillRequestedV1) -> None:
        """PermanentError unless the command lies within Binance's history and now."""
        try:
            check_backfill_bounds(
                start=command.start,
                end=command.end,
                earliest=day_start(self.settings.crypto_history_start),
                now=datetime.fromtimestamp(self.clock(), UTC),
                ahead=timedelta(days=self.settings.backfill_max_ahead_days),
                source="crypto (Binance)",
                setting="CRYPTO_HISTORY_START",
            )
        except DateOutOfRange as exc:
            raise PermanentError(f"refused: {exc}") from exc

    async def fetch_history(
        self, command: CryptoBackfillRequestedV1, *, simulated_allowed: bool = True
    ) -> FetchResult:
        """Publish every page of `[start, end)`; falls back to simulated candles
        for the remaining range when Binance is unreachable (if the settings allow
        it and `simulated_allowed`: never for a gap refill)."""
        start_ms, end_ms = datetime_to_ms(command.start), datetime_to_ms(command.end)
        batches = candles = 0
        cursor = start_ms
        try:
            async for page in self.client.iter_klines(
                command.symbol, command.interval, start_ms, end_ms
            ):
                await self._publish(command, page, "binance")
                batches, candles = batches + 1, candles + len(page)
                cursor = datetime_to_ms(page[-1].t) + interval_ms(command.interval)
        except BinanceUnavailableError as exc:
            if not self.settings.ticktide_simulated_fallback:
                raise
            if not simulated_allowed:
                log.warning(
                    "ingest.gap_refill_waits",
                    job_id=str(command.job_id),
                    symbol=command.symbol,
                    interval=command.interval,
                    reason="Binance is unavailable and a gap is never filled with "
                    "simulated candles",
                    error=str(exc),
                )
                raise
            log.warning(
                "ingest.simulated_fallback",
                job_id=str(command.job_id),
                symbol=command.symbol,
                interval=command.interval,
                error=str(exc),
            )
            now_slot_end = align_down(int(self.clock() * 1000), command.interval) + interval_ms(
                command.interval
            )
            # One page at a time: a long range never sits in memory as a whole.
            stop = min(end_ms, now_slot_end)
            page_span = MAX_LIMIT * interval_ms(command.interval)
            page_start = align_up(cursor, command.interval)
            while page_start < stop:
                page = simulated_candles(
                    command.symbol, command.interval, page_start, min(stop, page_start + page_span)
                )
                await self._publish(command, page, SIMULATED_SOURCE)
                batches, candles = batches + 1, candles + len(page)
                page_start += page_span
            return FetchResult(batches, candles, SIMULATED_SOURCE)
        return FetchResult(batches, candles, "binance")

    async def _publish(
        self, command: CryptoBackfillRequestedV1, page: list[CandleV1], source: str
    ) -> None:
        first_ms = datetime_to_ms(page[0].t)
        batch = CandleBatchV1(
            batch_id=batch_id_for(
                command.job_id,
                command.symbol,
                command.interval,
                first_ms,
                simulated=source == SIMULATED_SOURCE,
            ),
            job_id=command.job_id,
            symbol=command.symbol,
            interval=command.interval,
            source=source,  # type: ignore[arg-type]
            candles=page,
        )
        await self.bus.publish(batch, correlation_id=str(command.job_id))
