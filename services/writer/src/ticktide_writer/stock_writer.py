"""Persisting daily stock bars: the `writer.stocks` handler (`StockPricesV1`
→ `stock_prices`, then `StockPricesStoredV1`). One transaction per message,
no group commit: these are daily bars, a handful of messages per run (see
`per_message_writer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ticktide_common.errors import PermanentError
from ticktide_common.faults import CommitFault
from ticktide_common.messages import StockPricesStoredV1, StockPricesV1
from ticktide_writer.per_message_writer import PerMessageWriter, Stored
from ticktide_writer.stock_rows import new_stock, price_columns, stock_stored_event
from ticktide_writer.stocks_repository import StocksRepository

__all__ = ["StockWriter"]


class StockWriter(PerMessageWriter[StockPricesV1, StockPricesStoredV1]):
    """Upserts a batch of daily bars of one stock; `handle` is the bus handler."""

    domain = "stocks"

    def __init__(
        self,
        repository: StocksRepository,
        publish: Callable[[StockPricesStoredV1], Awaitable[None]],
        *,
        fault: CommitFault | None = None,
    ) -> None:
        super().__init__(publish, fault=fault)
        self._repository = repository

    async def store(self, message: StockPricesV1) -> Stored[StockPricesStoredV1]:
        columns = price_columns(message.bars)
        async with self._repository.transaction() as transaction:
            new = await transaction.claim_batch(message.batch_id, message.job_id, len(message.bars))
            rows_changed = 0
            if new:
                stock_id, exchange = await transaction.stock(
                    new_stock(message.symbol, message.exchange)
                )
                if exchange != message.exchange:
                    # Our symbols are unique across exchanges: storing the bars
                    # under the other exchange's stock would mix two series.
                    raise PermanentError(
                        f"{message.symbol} is listed on {exchange}, not {message.exchange}"
                    )
                rows_changed = await transaction.upsert_prices(stock_id, columns, message.source)
        return Stored(stock_stored_event(message, rows_changed), new, rows_changed)
