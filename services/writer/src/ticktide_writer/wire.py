"""The writer's reading of `CandleBatchV1`: the same message, validated faster.

`CandleBatchV1` checks each price with a Python validator (`Decimal(value)`),
five calls per candle, which cost the writer more CPU than the rest of its
work together (about 2.3 ms of 3.6 ms per 1,000 candles). `WireCandleBatchV1`
is a subclass that checks the same fields with a regular expression inside
pydantic-core instead. It accepts the plain decimal numbers every producer
sends (`"42000.10000000"`, `"-1.5"`, `"1e-8"`), a subset of what both
`Decimal` and PostgreSQL's `numeric` accept; what it refuses beyond that —
surrounding whitespace, `_` separators, non-ASCII digits — is malformed for
the writer, and goes to its dead-letter queue like any malformed message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from ticktide_common.messages import CandleBatchV1, CandleV1

__all__ = ["WireCandleV1", "WireCandleBatchV1", "PLAIN_DECIMAL"]

PLAIN_DECIMAL = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
PlainDecimal = Annotated[str, Field(max_length=64, pattern=PLAIN_DECIMAL)]


def _in_utc(value: datetime) -> datetime:
    # One shared tzinfo (datetime.UTC) makes comparing, hashing and formatting
    # the open times several times cheaper than pydantic's per-value tzinfo.
    return value.astimezone(UTC)


UtcOpenTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class WireCandleV1(CandleV1):
    """A `CandleV1` whose prices are checked by pattern; `t` must carry an offset."""

    t: UtcOpenTime
    o: PlainDecimal
    h: PlainDecimal
    l: PlainDecimal  # noqa: E741 - the contract's field name
    c: PlainDecimal
    v: PlainDecimal


class WireCandleBatchV1(CandleBatchV1):
    """A `CandleBatchV1` (same routing key, same fields) of `WireCandleV1`s."""

    candles: Annotated[list[WireCandleV1], Field(max_length=5000)]  # type: ignore[assignment]
