"""The ingest logic of stocks: running backfill commands, finalizing stored jobs
and recording gaps. No I/O of its own: SQL in `repository`, HTTP in `client`.

`StocksIngester.handle_backfill` runs one `StocksBackfillRequestedV1` through
`ticktide_common.ingest_lifecycle.run_ingest_job` (domain "stocks"). The fetch
never asks for sessions that have not closed yet, walks `[start, end)` in
windows of `WINDOW_DAYS` days, newest first, and publishes one `StockPricesV1`
per window (at most ~260 bars) with a deterministic batch id
(`ticktide_common.jobs.batch_id_for`). An empty window
with closed sessions is retried by the client and then reported; once newer
windows had rows, an empty older one is where the listing's history begins,
and the walk stops there. When the provider is unreachable and
`ticktide_simulated_fallback` is on, the rest of the range (older than what
was fetched) is published as simulated bars — never after an error block such
as an unknown symbol, and never for a gap refill (a hole must not be filled
with invented data). A command starting before `stocks_history_start` fails
at once (the gateway refuses it first).

Completion (`JobCompleter.on_complete`) detects the gaps of the whole stored
series against the exchange calendar and brings `stock_gaps` up to date.
`request_refills` asks for gap-refill jobs of open gaps, at most once per
`GAP_RETRY_SECONDS` each and `GAP_MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.errors import PermanentError
from ticktide_common.ingest_lifecycle import (
    FetchResult,
    JobCompleter,
    JobRow,
    claim_gap_attempt,
    commanded_job,
    run_ingest_job,
)
from ticktide_common.jobs import STOCKS_INTERVAL, batch_id_for, request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    StockBarV1,
    StockExchange,
    StockPricesStoredV1,
    StockPricesV1,
    StocksBackfillRequestedV1,
)
from ticktide_common.upstream import UpstreamEmptyError, UpstreamUnavailableError
from ticktide_ingest_stocks import repository as repo
from ticktide_ingest_stocks.calendar import date_windows, last_closed_session, sessions_between
from ticktide_ingest_stocks.client import NasdaqClient, NordicClient
from ticktide_ingest_stocks.gaps import GapChanges, find_gaps, reconcile
from ticktide_ingest_stocks.settings import IngestStocksSettings
from ticktide_ingest_stocks.simulated import SIMULATED_SOURCE, simulated_bars

__all__ = [
    "GAP_MAX_ATTEMPTS",
    "GAP_RETRY_SECONDS",
    "PAGE_BARS",
    "WINDOW_DAYS",
    "StocksIngester",
]

log = get_logger(__name__)

WINDOW_DAYS = 366  # one request per year of history
PAGE_BARS = 1000  # bars per published batch (a window holds at most ~260)
GAP_RETRY_SECONDS = 3600.0
GAP_MAX_ATTEMPTS = 3


def _midnight(day: date) -> datetime:
    return datetime.combine(day, day_time(0), tzinfo=UTC)


@dataclass(kw_only=True, eq=False)
class StocksIngester:
    """Backfill commands, stored events, gap bookkeeping of the stocks domain."""

    pool: asyncpg.Pool
    bus: Bus
    nasdaq: NasdaqClient
    nordic: NordicClient
    settings: IngestStocksSettings
    clock: Callable[[], float] = time.time
    gap_retry_seconds: float = GAP_RETRY_SECONDS
    gap_max_attempts: int = GAP_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        stale = self.settings.ingest_finalize_stale_seconds
        self.completer = JobCompleter(self.pool, "stocks", stale, self._on_complete)

    # ---- commands and events ---------------------------------------------
    async def handle_backfill(self, command: StocksBackfillRequestedV1) -> None:
        start, end = _midnight(command.start), _midnight(command.end)
        job = commanded_job(command, "stocks", command.symbol, STOCKS_INTERVAL, start, end)

        async def fetch(_stored: JobRow) -> FetchResult:
            return await self.fetch_history(command)

        attempts = min(self.settings.ingest_fetch_max_attempts, self.settings.bus_delivery_limit)
        await run_ingest_job(self.pool, job, fetch, self.completer, attempts, command.requested_by)

    async def on_stored(self, event: StockPricesStoredV1) -> None:
        if event.job_id is not None:
            await self.completer.try_finalize(event.job_id)

    async def maintain(self) -> None:
        """The periodic pass: finish jobs a race left unfinished, refill due gaps."""
        await self.completer.sweep()
        await self.request_refills()

    # ---- fetching ----------------------------------------------------------
    async def fetch_history(self, command: StocksBackfillRequestedV1) -> FetchResult:
        if command.start < self.settings.stocks_history_start:
            # The gateway answers 422 first; a command from elsewhere is refused too.
            raise PermanentError(
                f"refused: start ({command.start.isoformat()}) is before the stocks history, "
                f"which starts {self.settings.stocks_history_start.isoformat()} "
                "(STOCKS_HISTORY_START)"
            )
        exchange: StockExchange = command.exchange
        stock = await repo.get_stock(self.pool, command.symbol)
        if stock is not None and stock.exchange != exchange:
            raise PermanentError(f"{command.symbol} trades on {stock.exchange}, not {exchange}")
        source = self.nasdaq.source if exchange == "NASDAQ" else self.nordic.source
        now = datetime.fromtimestamp(self.clock(), UTC)
        closed = last_closed_session(exchange, now)
        # Sessions that have not closed have no bar yet: never ask for them.
        end = min(command.end, closed + timedelta(days=1)) if closed else command.start
        start = command.start
        published = _Published()
        covered_from = end  # [covered_from, end) is done
        # An unknown symbol gets its `stocks` row only once there is something to
        # store: a symbol the provider refuses leaves no trace.
        provider_symbol = (
            stock.provider_symbol
            if stock
            else repo.default_provider_symbol(command.symbol, exchange)
        )
        try:
            key = provider_symbol
            if exchange == "OMXH" and start < end:
                key = (stock.orderbook_id if stock else None) or await self._resolve_orderbook(
                    command.symbol, provider_symbol
                )
            found_rows = False
            for first, stop in date_windows(start, end, WINDOW_DAYS):
                sessions = sessions_between(exchange, first, stop)
                if not sessions:
                    covered_from = first
                    continue
                client = self.nasdaq if exchange == "NASDAQ" else self.nordic
                try:
                    bars = await client.bars(key, sessions[0], sessions[-1], expect_rows=True)
                except UpstreamEmptyError:
                    if not found_rows:
                        raise
                    log.info("ingest.history_begins", symbol=command.symbol, before=str(stop))
                    covered_from = start
                    break
                bars = [bar for bar in bars if start <= bar.date < end]
                if bars:
                    found_rows = True
                    stock = stock or await repo.ensure_stock(self.pool, command.symbol, exchange)
                    await self._publish(command, bars, source, published)
                covered_from = first
        except UpstreamUnavailableError as exc:
            if (
                not self.settings.ticktide_simulated_fallback
                or command.requested_by == "gap-refill"
            ):
                raise
            log.warning(
                "ingest.simulated_fallback",
                job_id=str(command.job_id),
                symbol=command.symbol,
                start=str(start),
                end=str(covered_from),
                error=str(exc),
            )
            bars = simulated_bars(command.symbol, exchange, start, covered_from)
            if bars and stock is None:
                stock = await repo.ensure_stock(self.pool, command.symbol, exchange)
            await self._publish(command, bars, SIMULATED_SOURCE, published)
            return FetchResult(published.batches, published.bars, SIMULATED_SOURCE)
        return FetchResult(published.batches, published.bars, source)

    async def _resolve_orderbook(self, symbol: str, provider_symbol: str) -> str:
        """Look the orderbook id up in the screener and cache it in `stocks`."""
        row = await self.nordic.resolve(provider_symbol)
        stock = await repo.ensure_stock(self.pool, symbol, "OMXH")
        await repo.set_orderbook(self.pool, stock.id, row.orderbook_id, row.full_name)
        log.info("ingest.orderbook_resolved", symbol=symbol, orderbook_id=row.orderbook_id)
        return row.orderbook_id

    async def _publish(
        self,
        command: StocksBackfillRequestedV1,
        bars: list[StockBarV1],
        source: str,
        published: _Published,
    ) -> None:
        for offset in range(0, len(bars), PAGE_BARS):
            page = bars[offset : offset + PAGE_BARS]
            batch = StockPricesV1(
                batch_id=batch_id_for(
                    command.job_id,
                    command.symbol,
                    STOCKS_INTERVAL,
                    page[0].date.isoformat(),
                    simulated=source == SIMULATED_SOURCE,
                ),
                job_id=command.job_id,
                symbol=command.symbol,
                exchange=command.exchange,
                source=source,  # type: ignore[arg-type]
                bars=page,
            )
            await self.bus.publish(batch, correlation_id=str(command.job_id))
            published.batches += 1
            published.bars += len(page)

    # ---- gaps ----------------------------------------------------------------
    async def _on_complete(self, job: JobRow) -> None:
        changes = await self.record_gaps(job.symbol)
        if changes is not None:
            log.info(
                "ingest.gaps_recorded",
                job_id=str(job.id),
                symbol=job.symbol,
                open_gaps=len(changes.still_open),
                new=len(changes.opened),
                refilled=len(changes.refilled),
            )

    async def record_gaps(self, symbol: str) -> GapChanges | None:
        """Detect the missing sessions of a stored series and update `stock_gaps`."""
        stock = await repo.get_stock(self.pool, symbol)
        if stock is None:
            return None
        exchange: StockExchange = stock.exchange  # type: ignore[assignment]
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_stock_gaps(conn, stock.id)
            stored = await repo.stored_dates(conn, stock.id)
            if not stored:
                return None
            expected = sessions_between(exchange, stored[0], stored[-1] + timedelta(days=1))
            changes = reconcile(
                find_gaps(expected, stored), await repo.open_gap_rows(conn, stock.id)
            )
            await repo.apply_gap_changes(conn, stock.id, changes)
            return changes

    async def request_refills(self) -> list[uuid.UUID]:
        """Gap-refill jobs for open gaps that are due (each attempt claimed atomically)."""
        due = await repo.open_gaps_due(
            self.pool, retry_seconds=self.gap_retry_seconds, max_attempts=self.gap_max_attempts
        )
        jobs: list[uuid.UUID] = []
        for gap in due:
            if not await claim_gap_attempt(self.pool, "stock_gaps", gap.id, self.gap_retry_seconds):
                continue
            job_id = await request_backfill(
                self.pool,
                self.bus,
                StocksBackfillRequestedV1(
                    job_id=uuid.uuid4(),
                    symbol=gap.symbol,
                    exchange=gap.exchange,  # type: ignore[arg-type]
                    start=gap.start,
                    end=gap.end + timedelta(days=1),
                    requested_by="gap-refill",
                ),
                kind="gap-refill",
            )
            log.info(
                "ingest.gap_refill_requested",
                job_id=str(job_id),
                symbol=gap.symbol,
                start=str(gap.start),
                end=str(gap.end),
                attempt=gap.refill_attempts + 1,
            )
            jobs.append(job_id)
        return jobs


class _Published:
    """Counts of what one fetch published so far."""

    def __init__(self) -> None:
        self.batches = 0
        self.bars = 0
