"""The writer's pure logic: which batches of a group are new, which of those
can be COPied straight into `crypto_prices` (fresh) and which must be merged
through the staging table, the rows and COPY text they become, the asset a
trading pair is of, and the stored event.

Nothing here does I/O, so it tests without servers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ticktide_common.messages import CandlesStoredV1
from ticktide_writer.candle_batches import DeliveredBatch

__all__ = [
    "QUOTE_ASSETS",
    "StagingRow",
    "GroupPlan",
    "BatchSpan",
    "base_asset",
    "plan_group",
    "batch_span",
    "split_fresh",
    "copy_text",
    "unique_positions",
    "staging_rows",
    "rows_changed_from_status",
    "stored_event",
]

# Longest first, so that FDUSD wins over USD-like shorter suffixes.
QUOTE_ASSETS: tuple[str, ...] = tuple(
    sorted(
        ("USDT", "BUSD", "USDC", "FDUSD", "TUSD", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY"),
        key=len,
        reverse=True,
    )
)

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


@dataclass(frozen=True)
class BatchSpan:
    """The series and the open-time range a batch covers (inclusive)."""

    batch_no: int
    crypto_id: int
    interval: str
    first_t: datetime
    last_t: datetime


def batch_span(batch_no: int, crypto_id: int, batch: DeliveredBatch) -> BatchSpan | None:
    """The span of a batch; None for an empty one."""
    if not batch.times:
        return None
    return BatchSpan(batch_no, crypto_id, batch.interval, min(batch.times), max(batch.times))


def split_fresh(
    spans: Sequence[BatchSpan], overlapping_stored: Iterable[int]
) -> tuple[list[int], list[int]]:
    """(fresh, merged) batch numbers, each in group order.

    A batch is fresh when no stored row lies in its span and no earlier batch
    of the group covers part of it: none of its rows can exist when it is
    written, so it is COPied straight into the table. The others are merged
    (upserted), after the fresh ones, in group order — so that every batch
    still sees the effect of the batches delivered before it.
    """
    overlapping = set(overlapping_stored)
    fresh: list[int] = []
    merged: list[int] = []
    for index, span in enumerate(spans):
        earlier = spans[:index]
        if span.batch_no in overlapping or any(
            other.crypto_id == span.crypto_id
            and other.interval == span.interval
            and other.first_t <= span.last_t
            and span.first_t <= other.last_t
            for other in earlier
        ):
            merged.append(span.batch_no)
        else:
            fresh.append(span.batch_no)
    return fresh, merged


def unique_positions(batch: DeliveredBatch) -> Sequence[int]:
    """Positions of the candles to write: one per open time (the last one sent
    wins), in the order the times first appear. One upsert statement cannot
    touch a row twice."""
    keys: Sequence[object] = batch.time_text if batch.time_text is not None else batch.times
    if len(set(keys)) == len(keys):
        return range(len(keys))
    last_by_time = {key: position for position, key in enumerate(keys)}
    return list(last_by_time.values())


def staging_rows(batch_no: int, batch: DeliveredBatch) -> list[StagingRow]:
    """The staging rows of one batch: the decimal strings untouched."""
    return [
        (
            batch_no,
            batch.times[i],
            batch.opens[i],
            batch.highs[i],
            batch.lows[i],
            batch.closes[i],
            batch.volumes[i],
        )
        for i in unique_positions(batch)
    ]


def copy_text(crypto_id: int, batch: DeliveredBatch) -> tuple[str, int] | None:
    """The batch as (text, row count): rows of PostgreSQL's COPY text format for `crypto_prices`
    (crypto_id, datetime, interval_type, open..volume, source, candle_json), or None
    when an open time is not a whole second, a value holds a character that COPY
    text would treat specially, or a decimal string is one that `numeric::text`
    would print differently (so the JSON rendered here would not be the stored
    digits): the caller then merges the batch through the staging path, where
    PostgreSQL renders the JSON itself. The open time is written as its
    `YYYY-MM-DDTHH:MM:SSZ` text, in the row and in its JSON."""
    if batch.time_text is None:
        return None
    columns: tuple[list[str], ...] = (
        batch.time_text,
        batch.opens,
        batch.highs,
        batch.lows,
        batch.closes,
        batch.volumes,
    )
    positions = unique_positions(batch)
    if len(positions) != len(batch):
        columns = tuple([column[i] for i in positions] for column in columns)
    prefix = f"{crypto_id}\t"
    middle = f"\t{batch.interval}\t"
    suffix = f"\t{batch.source}\t"
    text = "".join(
        [
            f"{prefix}{t}{middle}{o}\t{h}\t{l}\t{c}\t{v}{suffix}"
            f'{{"t":"{t}","o":{o},"h":{h},"l":{l},"c":{c},"v":{v}}}\n'
            for t, o, h, l, c, v in zip(*columns, strict=True)  # noqa: E741
        ]
    )
    # Each row has exactly 9 tabs and 1 newline of its own; any more came from a value.
    rows = len(positions)
    if text.count("\n") != rows or text.count("\t") != 9 * rows or "\\" in text or "\r" in text:
        return None
    prices = "\t".join("\t".join(column) for column in columns[1:])
    if not _canonical_decimals(f"\t{prices}\t"):
        return None
    return text, rows


_LEADING_ZERO_OR_POINT = re.compile(r"\t(?:0[0-9]|\.)")


def _canonical_decimals(joined: str) -> bool:
    """Whether every decimal string (each between tabs) prints back unchanged as
    `numeric::text`: digits and points only (PostgreSQL refuses a second
    point), no sign, no exponent, no leading zero or point, no trailing point.
    ('1e-8', '+5', '.5', '05', '5.' and '-0' would not.) String scans, no
    per-value regex: this runs on every candle of the ingest path."""
    return (
        joined.isascii()
        and not joined.encode().translate(None, b"0123456789.\t")
        and _LEADING_ZERO_OR_POINT.search(joined) is None
        and ".\t" not in joined
    )


_ROWS_STATUS = re.compile(r"^(?:INSERT \d+|COPY) (\d+)$")


def rows_changed_from_status(status: str) -> int:
    """The row count of an `INSERT 0 n` or `COPY n` command tag."""
    match = _ROWS_STATUS.match(status.strip())
    if match is None:
        raise ValueError(f"not an INSERT or COPY command tag: {status!r}")
    return int(match.group(1))


def stored_event(batch: DeliveredBatch, rows_changed: int) -> CandlesStoredV1:
    """The event that tells readers a batch is durable. A duplicate reports 0
    rows changed (this delivery changed nothing) but is still announced, so a
    completion that was committed before a crash is never lost."""
    times = batch.times
    return CandlesStoredV1(
        batch_id=batch.batch_id,
        job_id=batch.job_id,
        symbol=batch.symbol,
        interval=batch.interval,
        source=batch.source,
        first_t=min(times) if times else None,
        last_t=max(times) if times else None,
        candles=len(batch),
        rows_changed=rows_changed,
    )
