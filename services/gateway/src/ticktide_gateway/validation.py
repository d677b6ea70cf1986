"""What every domain's inputs share: the 422 of a well-formed but refused request
(`InvalidQuery`), request times (`Timestamp`, `DateOrTime`), the crypto symbol
(`Symbol`, crypto endpoints and backtests), and the window arithmetic of the
stocks and weather endpoints (`[start, end)` in UTC, bounds shown as the API
shows them, backfills bounded by the source's history start and by now).

Every time a request carries is a `Timestamp` (or the backtest bodies'
`ticktide_common.dates.UtcTime` it extends): ISO-8601 text only, never a number
(the document says a date-time string), converted to UTC by `to_utc`, so a value
whose UTC conversion leaves the years 1-9999 is a 422 naming the field, and
models hold UTC times only. A symbol is checked as sent against the pattern the
document shows (`SYMBOL_INPUT_PATTERN`), then upper-cased.

Pure: no I/O. Every rejection is an `InvalidQuery` whose message says what was
wrong and what is allowed; the app turns it into a 422 `{"detail": ...}`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from ticktide_common.dates import DateOutOfRange, UtcTime, check_backfill_bounds, iso_z, to_utc

__all__ = [
    "SYMBOL_PATTERN",
    "SYMBOL_INPUT_PATTERN",
    "Symbol",
    "Timestamp",
    "DateOrTime",
    "InvalidQuery",
    "as_utc",
    "DAY",
    "HOUR",
    "EARLIEST",
    "LATEST",
    "bound_text",
    "shift",
    "check_order",
    "ceil_hour",
    "check_history_bounds",
]

SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"  # a symbol as stored and answered
# What a request may send: the same, in either case, with spaces around. The raw
# input is checked against this (so the OpenAPI document carries the pattern that
# is enforced), then normalised to SYMBOL_PATTERN by `_normalised`; being ASCII,
# upper-casing cannot turn a refused input into an accepted one ("ß" -> "SS").
SYMBOL_INPUT_PATTERN = r"^ *[A-Za-z0-9]{2,20} *$"


class InvalidQuery(ValueError):
    """A request that is well-formed but asks for something not allowed."""


def _normalised(value: str) -> str:
    return value.strip(" ").upper()


def _plus_restored(value: object) -> object:
    # An unencoded "+00:00" in a query string arrives as " 00:00"; take it back.
    if isinstance(value, str) and len(value) > 19 and value[-6] == " " and value[-3] == ":":
        return f"{value[:-6]}+{value[-5:]}"
    return value


# Constraints before the validator: pydantic then applies the pattern to the str
# itself and keeps it in the JSON schema (after a BeforeValidator it would check it
# but leave it out of the document).
Symbol = Annotated[
    str,
    Field(
        pattern=SYMBOL_INPUT_PATTERN,
        description="trading pair (case-insensitive), e.g. BTCUSDT",
        examples=["BTCUSDT"],
    ),
    AfterValidator(_normalised),
]
Timestamp = Annotated[
    UtcTime,
    BeforeValidator(_plus_restored),
    Field(
        description="ISO-8601 (UTC when no offset is given) or a date (YYYY-MM-DD); "
        "its UTC value must lie in 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
    ),
]


def as_utc(value: datetime) -> datetime:
    """Naive times are UTC; aware ones are converted to UTC. ValueError (a 422 in
    a model's validator) when the UTC value leaves the years 1-9999."""
    return to_utc(value)


DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
DateOrTime = Annotated[
    Timestamp,
    Field(description="YYYY-MM-DD or an ISO-8601 time (UTC when no offset is given)"),
]


def bound_text(value: datetime) -> str:
    """A window bound as the API shows it: YYYY-MM-DD at midnight, else ISO with Z."""
    utc = as_utc(value)
    if utc.time() == datetime.min.time():
        return utc.date().isoformat()
    return iso_z(utc)


def shift(value: datetime, delta: timedelta) -> datetime:
    """`value + delta`, clamped to the representable range instead of overflowing."""
    try:
        return value + delta
    except OverflowError:
        return EARLIEST if delta < timedelta(0) else LATEST


def check_order(start: datetime, end: datetime) -> None:
    if start >= end:
        raise InvalidQuery(
            f"start ({bound_text(start)}) must be before end ({bound_text(end)}); "
            "start is inclusive, end exclusive"
        )


def ceil_hour(value: datetime) -> datetime:
    floor = value.replace(minute=0, second=0, microsecond=0)
    return floor if floor == value else shift(floor, HOUR)


def check_history_bounds(
    start: datetime, end: datetime, earliest: datetime, now: datetime, ahead: timedelta, what: str
) -> None:
    try:
        check_backfill_bounds(
            start=start,
            end=end,
            earliest=earliest,
            now=now,
            ahead=ahead,
            source=what,
            setting=f"{what.upper()}_HISTORY_START",
        )
    except DateOutOfRange as exc:
        raise InvalidQuery(str(exc)) from exc
