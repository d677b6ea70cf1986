"""Keeps every configured stock current after each market's close, and retries
open gaps.

Each tick (every `stocks_schedule_seconds`, when `stocks_scheduler_enabled`)
takes a PostgreSQL advisory lock so that only one replica works at a time. For
each configured symbol (`stock_symbols_nasdaq` on NASDAQ, `stock_symbols_omxh`
on OMXH) whose last closed session (per the exchange calendar: NASDAQ 16:00
America/New_York, Helsinki 18:30 Europe/Helsinki, early closes included) is not
stored yet, and for which `ticktide_common.ingest_lifecycle.scheduled_job_pending`
finds no scheduled job (finished within half a schedule period, or unfinished
and not stale: a job a crash left unfinished no longer blocks the symbol once
stale), it requests a 'scheduled' backfill from the day after the last stored
date (or `stocks_history_days` back when nothing is stored) to the day after
that session. Then it requests
gap refills that are due.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.ingest_lifecycle import run_exclusively, scheduled_job_pending
from ticktide_common.jobs import STOCKS_INTERVAL, request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import StockExchange, StocksBackfillRequestedV1
from ticktide_common.periodic import run_periodically
from ticktide_common.settings import MarketCatalogueSettings
from ticktide_ingest_stocks import repository as repo
from ticktide_ingest_stocks.calendar import last_closed_session
from ticktide_ingest_stocks.service import StocksIngester
from ticktide_ingest_stocks.settings import IngestStocksSettings

__all__ = ["SCHEDULER_LOCK_KEY", "Scheduler", "configured_symbols", "run_periodically"]

log = get_logger(__name__)

SCHEDULER_LOCK_KEY = int.from_bytes(b"ttstock1", "big") & 0x7FFFFFFFFFFFFFFF


def configured_symbols(settings: MarketCatalogueSettings) -> list[tuple[str, StockExchange]]:
    return [(s, "NASDAQ") for s in settings.stock_symbols_nasdaq] + [
        (s, "OMXH") for s in settings.stock_symbols_omxh
    ]


@dataclass(kw_only=True, eq=False)
class Scheduler:
    """One tick = scheduled refreshes of every configured symbol + due gap refills."""

    pool: asyncpg.Pool
    bus: Bus
    ingester: StocksIngester
    settings: IngestStocksSettings
    clock: Callable[[], float] = time.time

    async def tick(self) -> list[uuid.UUID]:
        """Run one tick if no other replica is; returns the jobs requested."""
        refills = self.ingester.request_refills
        return await run_exclusively(self.pool, SCHEDULER_LOCK_KEY, self._refresh, refills)

    async def _refresh(self) -> list[uuid.UUID]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        jobs: list[uuid.UUID] = []
        for symbol, exchange in configured_symbols(self.settings):
            closed = last_closed_session(exchange, now)
            if closed is None:
                continue
            last = await repo.last_stored_date(self.pool, symbol)
            if last is not None and last >= closed:
                continue
            if await scheduled_job_pending(
                self.pool,
                domain="stocks",
                symbol=symbol,
                interval=STOCKS_INTERVAL,
                period_seconds=self.settings.stocks_schedule_seconds / 2,
            ):
                continue
            start = (
                last + timedelta(days=1)
                if last is not None
                else closed - timedelta(days=self.settings.stocks_history_days)
            )
            end = closed + timedelta(days=1)
            job_id = await request_backfill(
                self.pool,
                self.bus,
                StocksBackfillRequestedV1(
                    job_id=uuid.uuid4(),
                    symbol=symbol,
                    exchange=exchange,
                    start=start,
                    end=end,
                    requested_by="scheduler",
                ),
                kind="scheduled",
            )
            log.info(
                "scheduler.job_requested",
                job_id=str(job_id),
                symbol=symbol,
                start=str(start),
                end=str(end),
            )
            jobs.append(job_id)
        return jobs
