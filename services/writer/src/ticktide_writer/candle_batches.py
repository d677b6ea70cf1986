"""A delivered candle batch as the writer works with it, and how a message body
becomes one.

`DeliveredBatch` holds the batch's fields and its candles as columns: the open
times (UTC datetimes, and their text `YYYY-MM-DDTHH:MM:SSZ` when every one is
a whole second) and the provider's decimal strings, untouched. No model object
is made per candle: at a million candles per import, building and validating a
`CandleV1` for each cost the writer more CPU than PostgreSQL spent storing them.

`decode_candle_batch(body)` reads a message body. `CandleBatchV1` (in
`ticktide_common.messages`) stays the one schema:

- every field but the candles is validated by that model itself (a subclass
  that takes the candles as plain JSON values);
- the candles are accepted without a model when they have the shape every
  Ticktide producer emits (pydantic's JSON of a `CandleV1`): objects with exactly
  the keys t, o, h, l, c, v; times `YYYY-MM-DDTHH:MM:SSZ` of a real calendar
  instant; prices and volumes of digits with at most one inner point, at most
  64 characters. That is a subset of what `CandleV1` accepts, and for it the
  model would give the same values. The checks are whole-batch scans (a join
  and one regular expression per column), not a Python step per value;
- anything else (another spelling of a time, an exponent, a number where a
  string is due, an unknown key, ...) is validated by `CandleBatchV1` in full,
  which accepts it, normalised, or raises its `ValidationError` (the bus then
  dead-letters the message, as for every malformed message).

Both paths give equal batches for equal messages (tests/unit/test_candle_batches.py).
Nothing here does I/O.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from ticktide_common.messages import CandleBatchV1, CandleSource, CryptoInterval

__all__ = ["DeliveredBatch", "decode_candle_batch"]

_PRICE_KEYS = ("o", "h", "l", "c", "v")
_CANDLE_KEYS = frozenset({"t", *_PRICE_KEYS})
_MAX_DECIMAL_LENGTH = 64  # messages.DecimalString's max_length
_WHOLE_SECOND_UTC = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
_TIMES = re.compile(rf"{_WHOLE_SECOND_UTC}(?:\t{_WHOLE_SECOND_UTC})*+")
_DECIMAL = r"[0-9]++(?:\.[0-9]++)?+"  # possessive: no backtracking over a column
_DECIMALS = re.compile(rf"{_DECIMAL}(?:\t{_DECIMAL})*+")


class _BatchFields(CandleBatchV1):
    """CandleBatchV1 with its candles left as plain JSON values: validates
    every other field exactly as the schema does."""

    candles: Annotated[list[Any], Field(max_length=5000)]  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class DeliveredBatch:
    """One candle batch: its fields, and its candles as columns of equal length."""

    batch_id: uuid.UUID
    job_id: uuid.UUID | None
    symbol: str
    interval: CryptoInterval
    source: CandleSource
    times: list[datetime]  # open times, UTC
    time_text: list[str] | None  # `YYYY-MM-DDTHH:MM:SSZ` each; None unless all whole seconds
    opens: list[str]
    highs: list[str]
    lows: list[str]
    closes: list[str]
    volumes: list[str]

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def from_message(cls, message: CandleBatchV1) -> DeliveredBatch:
        """The batch of a validated message (its times are UTC: `UtcDatetime`)."""
        candles = message.candles
        times = [candle.t for candle in candles]
        whole_seconds = all(t.microsecond == 0 for t in times)
        time_text = [f"{t.isoformat()[:19]}Z" for t in times] if whole_seconds else None
        columns = [[getattr(candle, key) for candle in candles] for key in _PRICE_KEYS]
        return cls.of(message, times, time_text, columns)

    @classmethod
    def of(
        cls,
        fields: CandleBatchV1,
        times: list[datetime],
        time_text: list[str] | None,
        columns: list[list[str]],
    ) -> DeliveredBatch:
        """The batch of `fields`' batch fields and these columns (o, h, l, c, v)."""
        opens, highs, lows, closes, volumes = columns
        return cls(
            fields.batch_id,
            fields.job_id,
            fields.symbol,
            fields.interval,
            fields.source,
            times,
            time_text,
            opens,
            highs,
            lows,
            closes,
            volumes,
        )


def decode_candle_batch(body: bytes) -> DeliveredBatch:
    """The batch in a message body; raises pydantic's ValidationError when the
    body is not a valid CandleBatchV1."""
    try:
        fields = _BatchFields.model_validate_json(body)
    except ValueError:
        return DeliveredBatch.from_message(CandleBatchV1.model_validate_json(body))
    batch = _canonical_batch(fields)
    if batch is None:
        return DeliveredBatch.from_message(CandleBatchV1.model_validate_json(body))
    return batch


def _canonical_batch(fields: _BatchFields) -> DeliveredBatch | None:
    """The batch when every candle has the producers' canonical shape, else None."""
    candles = fields.candles
    try:
        time_text = [candle["t"] for candle in candles]
        columns = [[candle[key] for candle in candles] for key in _PRICE_KEYS]
    except (TypeError, KeyError):  # a candle that is no object, or lacks a key
        return None
    # Each candle has the six keys, so it has exactly six when they sum to 6 × n.
    if sum(map(len, candles)) != len(_CANDLE_KEYS) * len(candles):
        return None
    try:
        joined_times = "\t".join(time_text)
        joined = "\t".join(["\t".join(column) for column in columns])
    except TypeError:  # a value that is not a string
        return None
    if candles and (
        not joined_times.isascii()
        or _TIMES.fullmatch(joined_times) is None
        or not joined.isascii()
        or _DECIMALS.fullmatch(joined) is None
        or max(max(map(len, column)) for column in columns) > _MAX_DECIMAL_LENGTH
    ):
        return None
    try:
        times = list(map(datetime.fromisoformat, time_text))
    except ValueError:  # not a calendar instant (month 13, hour 24, a leap second)
        return None
    if any(t.tzinfo is not UTC for t in times):  # pragma: no cover - 'Z' parses to UTC
        return None
    return DeliveredBatch.of(fields, times, time_text, columns)
