"""Group commit of candle batches: the bus handler and the loop that writes.

Each delivered batch is prepared by its handler (series id resolved, COPY
text rendered — CPU work done while the previous group is in PostgreSQL),
queued, and its handler waits. One loop takes what is queued — up to
`max_group_candles`, waiting at most `max_group_wait` seconds for more — and
writes the group in ONE transaction (`WriterRepository`), so that the commit
and the round trips are shared. After the commit the stored events are
published (in the background, while the next group is written), then each
handler returns and the bus acks its message. Nothing is acked before it is
durable:

- a group that fails is retried batch by batch, so one bad batch cannot fail
  its neighbours; a data error of a single batch is permanent (dead-letter
  queue), anything else is retried by the bus;
- if a stored event cannot be published, that message is retried; the retry
  finds its batch already recorded (a duplicate: no row is written twice) and
  publishes the event again, so a completion is never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from ticktide_common.errors import PermanentError, TransientError
from ticktide_common.faults import CommitFault
from ticktide_common.logging import get_logger
from ticktide_common.messages import CandlesStoredV1
from ticktide_writer import metrics
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.repository import WriterRepository, WriteTransaction
from ticktide_writer.service import (
    base_asset,
    batch_span,
    copy_text,
    plan_group,
    split_fresh,
    staging_rows,
    stored_event,
)
from ticktide_writer.settling import settle

__all__ = ["CandleWriter", "StoredPublisher"]

log = get_logger(__name__)

StoredPublisher = Callable[[CandlesStoredV1], Awaitable[None]]

# Errors in the data itself (class 22 data exception, class 23 integrity
# constraint violation): retrying the same batch cannot succeed. A unique
# violation is the exception: another writer stored rows of a "fresh" batch
# first, and the retry merges the batch instead.
_PERMANENT_DB_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
_RETRYABLE_DB_ERRORS = (asyncpg.UniqueViolationError,)


@dataclass
class _Pending:
    """A delivered batch, prepared for writing, and its waiting handler."""

    batch: DeliveredBatch
    crypto_id: int
    rendered: tuple[str, int] | None  # COPY text and its row count (None: merge only)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, error: BaseException | None = None) -> None:
        settle(self.done, error)


class CandleWriter:
    """Writes delivered batches in groups; `handle` is the bus handler."""

    def __init__(
        self,
        repository: WriterRepository,
        publish: StoredPublisher,
        *,
        max_group_candles: int = 20000,
        max_group_wait: float = 0.005,
        fault: CommitFault | None = None,
    ) -> None:
        self._repository = repository
        self._publish = publish
        self._max_group_candles = max_group_candles
        self._max_group_wait = max_group_wait
        self._fault = fault or CommitFault(None)
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._crypto_ids: dict[str, int] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._announcing: set[asyncio.Task[None]] = set()
        self._stopping = False

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._write_loop(), name="candle-writer")

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop taking batches; write and announce what is queued (bounded)."""
        self._stopping = True
        self._queue.put_nowait(None)
        try:
            if self._loop_task is not None:
                await asyncio.wait_for(self._loop_task, timeout)
            if self._announcing:
                await asyncio.wait_for(asyncio.gather(*self._announcing), timeout)
        except TimeoutError:
            log.warning("writer.stop_timeout", queued=self._queue.qsize())

    async def handle(self, batch: DeliveredBatch) -> None:
        """Return once the batch is committed and announced; raise otherwise."""
        if self._stopping:
            raise TransientError("writer is stopping")
        crypto_id = (await self._crypto_ids_for({batch.symbol}))[batch.symbol]
        pending = _Pending(batch, crypto_id, copy_text(crypto_id, batch))
        self._queue.put_nowait(pending)
        await pending.done

    async def _write_loop(self) -> None:
        while True:
            group = await self._next_group()
            if not group:
                return
            await self._write_group(group)

    async def _next_group(self) -> list[_Pending]:
        first = await self._queue.get()
        if first is None:
            return []
        group = [first]
        candles = len(first.batch)
        deadline = time.monotonic() + self._max_group_wait
        while candles < self._max_group_candles:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if item is None:  # stop requested: write this group, then end
                self._queue.put_nowait(None)
                break
            group.append(item)
            candles += len(item.batch)
        return group

    async def _write_group(self, group: Sequence[_Pending]) -> None:
        """Write and commit, then announce in the background; never raises."""
        try:
            rows_changed = await self._store(group)
        except Exception as exc:
            if len(group) > 1:
                log.warning("group.failed_retrying_singly", batches=len(group), error=repr(exc))
                for pending in group:
                    await self._write_group([pending])
                return
            metrics.BATCHES.labels("failed").inc()
            group[0].settle(_classify(exc))
            return
        self._fault.committed()
        task = asyncio.create_task(self._announce(group, rows_changed))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def _announce(self, group: Sequence[_Pending], rows_changed: Sequence[int]) -> None:
        """Publish each batch's stored event, then let its handler return (ack)."""
        events = [
            stored_event(p.batch, changed) for p, changed in zip(group, rows_changed, strict=True)
        ]
        published = await asyncio.gather(
            *(self._publish(e) for e in events), return_exceptions=True
        )
        for pending, outcome in zip(group, published, strict=True):
            pending.settle(outcome if isinstance(outcome, BaseException) else None)

    async def _store(self, group: Sequence[_Pending]) -> list[int]:
        """One transaction; rows changed per batch (0 for a duplicate)."""
        started = time.perf_counter()
        async with self._repository.write_transaction() as transaction:
            claimed = await transaction.claim_batches(
                [p.batch.batch_id for p in group],
                [p.batch.job_id for p in group],
                [len(p.batch) for p in group],
            )
            plan = plan_group([p.batch.batch_id for p in group], claimed)
            rows_changed, merged = await self._write_new(transaction, group, plan.new)
        elapsed = time.perf_counter() - started
        self._observe(group, plan.new, plan.duplicates, rows_changed, elapsed, merged)
        return rows_changed

    @staticmethod
    async def _write_new(
        transaction: WriteTransaction, group: Sequence[_Pending], new: Sequence[int]
    ) -> tuple[list[int], int]:
        """COPY the fresh batches, merge the others in group order.
        Returns rows changed per batch and how many batches were merged."""
        rows_changed = [0] * len(group)
        spans = [
            span
            for position in new
            if (span := batch_span(position, group[position].crypto_id, group[position].batch))
            is not None
        ]
        fresh, merged = split_fresh(spans, await transaction.overlapping_stored(spans))
        copy_chunks = []
        for position in fresh:
            rendered = group[position].rendered
            if rendered is None:  # a value COPY text cannot carry: merge it instead
                merged.append(position)
            else:
                copy_chunks.append(rendered[0])
                rows_changed[position] = rendered[1]
        if copy_chunks:
            await transaction.copy_fresh("".join(copy_chunks))
        merged.sort()
        if merged:
            await transaction.stage(
                [
                    row
                    for position in merged
                    for row in staging_rows(position, group[position].batch)
                ]
            )
        for position in merged:
            batch = group[position].batch
            rows_changed[position] = await transaction.upsert_staged_batch(
                position, group[position].crypto_id, batch.interval, batch.source
            )
        return rows_changed, len(merged)

    async def _crypto_ids_for(self, symbols: set[str]) -> dict[str, int]:
        unknown = symbols - self._crypto_ids.keys()
        if unknown:
            self._crypto_ids.update(
                await self._repository.ensure_cryptocurrencies(
                    {symbol: base_asset(symbol) for symbol in sorted(unknown)}
                )
            )
        return self._crypto_ids

    @staticmethod
    def _observe(
        group: Sequence[_Pending],
        new: Sequence[int],
        duplicates: Sequence[int],
        rows_changed: Sequence[int],
        elapsed: float,
        merged: int,
    ) -> None:
        candles = sum(len(group[i].batch) for i in new)
        changed = sum(rows_changed)
        metrics.COMMIT_SECONDS.observe(elapsed)
        metrics.GROUP_BATCHES.observe(len(group))
        metrics.BATCHES.labels("stored").inc(len(new))
        metrics.BATCHES.labels("duplicate").inc(len(duplicates))
        metrics.CANDLES_STORED.inc(candles)
        metrics.ROWS_CHANGED.inc(changed)
        log.info(
            "group.committed",
            batches=len(group),
            duplicates=len(duplicates),
            merged=merged,
            candles=candles,
            rows_changed=changed,
            ms=round(elapsed * 1000, 1),
        )


def _classify(exc: Exception) -> Exception:
    """A data error of one batch goes to the dead-letter queue; the rest retry."""
    if isinstance(exc, _PERMANENT_DB_ERRORS) and not isinstance(exc, _RETRYABLE_DB_ERRORS):
        return PermanentError(f"batch rejected by the database: {exc}")
    return exc
