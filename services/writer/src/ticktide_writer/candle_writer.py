"""Group commit of candle batches: the bus handler and the loop that writes.

Each delivered batch is queued and its handler waits. One loop takes what is
queued — up to `max_group_candles`, waiting at most `max_group_wait` seconds
for more — and writes the group in ONE transaction (`WriterRepository`), so
that the commit and the round trips are shared while the next group is being
received and parsed. After the commit the stored events are published, then
each handler returns and the bus acks its message. Nothing is acked before it
is durable:

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
from ticktide_common.logging import get_logger
from ticktide_common.messages import CandleBatchV1, CandlesStoredV1
from ticktide_writer import metrics
from ticktide_writer.faults import CommitFault
from ticktide_writer.repository import WriterRepository
from ticktide_writer.service import (
    base_asset,
    batch_span,
    copy_text,
    plan_group,
    split_fresh,
    staging_rows,
    stored_event,
)

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
    batch: CandleBatchV1
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, error: BaseException | None = None) -> None:
        if self.done.done():  # the handler was cancelled (its channel closed)
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class CandleWriter:
    """Writes delivered batches in groups; `handle` is the bus handler."""

    def __init__(self, repository: WriterRepository, publish: StoredPublisher, *,
                 max_group_candles: int = 20000, max_group_wait: float = 0.005,
                 fault: CommitFault | None = None) -> None:
        self._repository = repository
        self._publish = publish
        self._max_group_candles = max_group_candles
        self._max_group_wait = max_group_wait
        self._fault = fault or CommitFault(None)
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._crypto_ids: dict[str, int] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._write_loop(), name="candle-writer")

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop taking batches; write what is queued (bounded by `timeout`)."""
        self._stopping = True
        self._queue.put_nowait(None)
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout)
            except TimeoutError:
                log.warning("writer.stop_timeout", queued=self._queue.qsize())

    async def handle(self, batch: CandleBatchV1) -> None:
        """Return once the batch is committed and announced; raise otherwise."""
        if self._stopping:
            raise TransientError("writer is stopping")
        pending = _Pending(batch)
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
        candles = len(first.batch.candles)
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
            candles += len(item.batch.candles)
        return group

    async def _write_group(self, group: Sequence[_Pending]) -> None:
        """Write, commit, announce, settle every handler; never raises."""
        try:
            rows_changed = await self._store([pending.batch for pending in group])
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
        events = [stored_event(p.batch, changed or 0) for p, changed in zip(group, rows_changed,
                                                                              strict=True)]
        published = await asyncio.gather(*(self._publish(e) for e in events),
                                         return_exceptions=True)
        for pending, outcome in zip(group, published, strict=True):
            pending.settle(outcome if isinstance(outcome, BaseException) else None)

    async def _store(self, batches: Sequence[CandleBatchV1]) -> list[int | None]:
        """One transaction; rows changed per batch, None for a duplicate."""
        crypto_ids = await self._crypto_ids_for({batch.symbol for batch in batches})
        started = time.perf_counter()
        rows_changed: list[int | None] = [None] * len(batches)
        async with self._repository.write_transaction() as transaction:
            claimed = await transaction.claim_batches(
                [b.batch_id for b in batches], [b.job_id for b in batches],
                [len(b.candles) for b in batches],
            )
            plan = plan_group([b.batch_id for b in batches], claimed)
            spans = []
            for position in plan.new:
                span = batch_span(position, crypto_ids[batches[position].symbol],
                                  batches[position])
                if span is None:
                    rows_changed[position] = 0
                else:
                    spans.append(span)
            fresh, merged = split_fresh(spans, await transaction.overlapping_stored(spans))

            copy_chunks = []
            for position in fresh:
                rendered = copy_text(crypto_ids[batches[position].symbol], batches[position])
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
                    [row for position in merged for row in staging_rows(position,
                                                                        batches[position])]
                )
            for position in merged:
                batch = batches[position]
                rows_changed[position] = await transaction.upsert_staged_batch(
                    position, crypto_ids[batch.symbol], batch.interval, batch.source
                )
        elapsed = time.perf_counter() - started
        self._observe(batches, plan.new, plan.duplicates, rows_changed, elapsed,
                      merged=len(merged))
        return rows_changed

    async def _crypto_ids_for(self, symbols: set[str]) -> dict[str, int]:
        unknown = symbols - self._crypto_ids.keys()
        if unknown:
            self._crypto_ids.update(await self._repository.ensure_cryptocurrencies(
                {symbol: base_asset(symbol) for symbol in sorted(unknown)}
            ))
        return self._crypto_ids

    @staticmethod
    def _observe(batches: Sequence[CandleBatchV1], new: Sequence[int],
                 duplicates: Sequence[int], rows_changed: Sequence[int | None],
                 elapsed: float, merged: int) -> None:
        candles = sum(len(batches[i].candles) for i in new)
        changed = sum(c or 0 for c in rows_changed)
        metrics.COMMIT_SECONDS.observe(elapsed)
        metrics.GROUP_BATCHES.observe(len(batches))
        metrics.BATCHES.labels("stored").inc(len(new))
        metrics.BATCHES.labels("duplicate").inc(len(duplicates))
        metrics.CANDLES_STORED.inc(candles)
        metrics.ROWS_CHANGED.inc(changed)
        log.info("group.committed", batches=len(batches), duplicates=len(duplicates),
                 merged=merged, candles=candles, rows_changed=changed, ms=round(elapsed * 1000, 1))


def _classify(exc: Exception) -> Exception:
    """A data error of one batch goes to the dead-letter queue; the rest retry."""
    if isinstance(exc, _PERMANENT_DB_ERRORS) and not isinstance(exc, _RETRYABLE_DB_ERRORS):
        return PermanentError(f"batch rejected by the database: {exc}")
    return exc
