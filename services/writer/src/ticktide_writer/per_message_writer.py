"""The life of one stock or weather message in the writer, shared by
`StockWriter` and `WeatherWriter`.

Each message is written in ONE transaction of its own; there is no group
commit as for candles, because these volumes are small (daily bars, hourly
weather: a few messages per minute). The order is what makes redelivery
harmless:

1. store: claim the batch id in `ingest_batches` and upsert the rows, in one
   transaction (a batch claimed before stores nothing: a duplicate);
2. after the commit, publish the stored event (a duplicate is announced too,
   with 0 rows changed, so a completion lost in a crash is never lost for good);
3. return, and the bus acks the message.

If the publish fails the handler raises, the bus redelivers, and the retry is
a duplicate that publishes again. A data error (the database refuses a value)
is permanent: the message goes to its dead-letter queue. Anything else (the
database away, a deadlock) is retried by the bus.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import asyncpg

from ticktide_common.errors import PermanentError, TransientError
from ticktide_common.faults import CommitFault
from ticktide_common.logging import get_logger
from ticktide_common.messages import BusMessage
from ticktide_writer import metrics

__all__ = ["PerMessageWriter", "Stored", "classify_db_error"]

log = get_logger(__name__)

M = TypeVar("M", bound=BusMessage)
E = TypeVar("E", bound=BusMessage)

# Errors in the data itself (class 22 data exception, class 23 integrity
# constraint violation): retrying the same message cannot succeed.
_PERMANENT_DB_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


def classify_db_error(exc: Exception) -> Exception:
    """A data error goes to the dead-letter queue; the rest are retried."""
    if isinstance(exc, _PERMANENT_DB_ERRORS):
        return PermanentError(f"message rejected by the database: {exc}")
    return exc


@dataclass(frozen=True)
class Stored(Generic[E]):
    """What one committed transaction did: the event to announce, whether the
    batch was new, and the rows it changed."""

    event: E
    new: bool
    rows_changed: int


class PerMessageWriter(ABC, Generic[M, E]):
    """Writes one message per transaction; `handle` is the bus handler."""

    domain: ClassVar[str]

    def __init__(
        self, publish: Callable[[E], Awaitable[None]], *, fault: CommitFault | None = None
    ) -> None:
        self._publish = publish
        self._fault = fault or CommitFault(None)
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @abstractmethod
    async def store(self, message: M) -> Stored[E]:
        """Write the message in one transaction (committed when this returns)."""

    async def handle(self, message: M) -> None:
        """Return once the message is committed and announced; raise otherwise."""
        if self._stopping:
            raise TransientError("writer is stopping")
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._handle(message)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Take no more messages; let those being written finish (bounded)."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning(f"{self.domain}_writer.stop_timeout", in_flight=self._in_flight)

    async def _handle(self, message: M) -> None:
        started = time.perf_counter()
        try:
            stored = await self.store(message)
        except PermanentError:
            metrics.SERIES_BATCHES.labels(self.domain, "failed").inc()
            raise
        except Exception as exc:
            metrics.SERIES_BATCHES.labels(self.domain, "failed").inc()
            classified = classify_db_error(exc)
            if classified is exc:
                raise
            raise classified from exc
        self._fault.committed()
        outcome = "stored" if stored.new else "duplicate"
        metrics.SERIES_BATCHES.labels(self.domain, outcome).inc()
        metrics.SERIES_ROWS_CHANGED.labels(self.domain).inc(stored.rows_changed)
        log.info(
            f"{self.domain}.committed",
            outcome=outcome,
            rows_changed=stored.rows_changed,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        await self._publish(stored.event)
