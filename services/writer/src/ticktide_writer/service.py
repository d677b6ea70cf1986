"""The writer's pure logic: which batches of a group are new, the rows they put
into the staging table, the asset a trading pair is of, and the stored event.

Nothing here does I/O, so it tests without servers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CandleV1

__all__ = [
    "QUOTE_ASSETS",
    "StagingRow",
    "GroupPlan",
    "base_asset",
    "plan_group",
    "unique_candles",
    "staging_rows",
    "rows_changed_from_status",
    "stored_event",
]

# Longest first, so that FDUSD wins over USD-like shorter suffixes.
QUOTE_ASSETS: tuple[str, ...] = tuple(sorted(
    ("USDT", "BUSD", "USDC", "FDUSD", "TUSD", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY"),
    key=len, reverse=True,
))

# (batch_no, open time, open, high, low, close, volume): the columns of the staging table.
StagingRow = tuple[int, datetime, str, str, str, str, str]


def base_asset(binance_symbol: str) -> str:
    """`BTCUSDT` → `BTC`; a pair without a known quote asset is its own base."""
    for quote in QUOTE_ASSETS:
        if binance_symbol.endswith(quote) and len(binance_symbol) > len(quote):
            return binance_symbol[: -len(quote)]
    return binance_symbol


@dataclass(frozen=True)
class GroupPlan:
    """Positions (in the group) of the batches to write and of the duplicates."""

    new: tuple[int, ...]
    duplicates: tuple[int, ...]


def plan_group(batch_ids: Sequence[uuid.UUID], claimed: Iterable[uuid.UUID]) -> GroupPlan:
    """A batch is new if this transaction claimed its id, and only its first
    occurrence in the group is; everything else was stored before."""
    unclaimed = set(claimed)
    new: list[int] = []
    duplicates: list[int] = []
    for position, batch_id in enumerate(batch_ids):
        if batch_id in unclaimed:
            unclaimed.discard(batch_id)
            new.append(position)
        else:
            duplicates.append(position)
    return GroupPlan(tuple(new), tuple(duplicates))


def unique_candles(candles: Sequence[CandleV1]) -> Sequence[CandleV1]:
    """The candles with one per open time (the last one sent wins), in the
    original order. One upsert statement cannot touch a row twice."""
    if len({candle.t for candle in candles}) == len(candles):
        return candles
    last_by_time = {candle.t: candle for candle in candles}
    return list(last_by_time.values())


def staging_rows(batch_no: int, batch: CandleBatchV1) -> list[StagingRow]:
    """The staging rows of one batch: the decimal strings untouched."""
    return [(batch_no, c.t, c.o, c.h, c.l, c.c, c.v) for c in unique_candles(batch.candles)]


_INSERT_STATUS = re.compile(r"^INSERT \d+ (\d+)$")


def rows_changed_from_status(status: str) -> int:
    """The row count of an `INSERT 0 n` command tag (inserted plus updated rows)."""
    match = _INSERT_STATUS.match(status.strip())
    if match is None:
        raise ValueError(f"not an INSERT command tag: {status!r}")
    return int(match.group(1))


def stored_event(batch: CandleBatchV1, rows_changed: int) -> CandlesStoredV1:
    """The event that tells readers a batch is durable. A duplicate reports 0
    rows changed (this delivery changed nothing) but is still announced, so a
    completion that was committed before a crash is never lost."""
    times = [candle.t for candle in batch.candles]
    return CandlesStoredV1(
        batch_id=batch.batch_id,
        job_id=batch.job_id,
        symbol=batch.symbol,
        interval=batch.interval,
        source=batch.source,
        first_t=min(times) if times else None,
        last_t=max(times) if times else None,
        candles=len(batch.candles),
        rows_changed=rows_changed,
    )
