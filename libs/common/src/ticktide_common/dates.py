"""The one conversion of the times and dates that enter Ticktide to UTC, and the
bounds a backfill of each source must stay within.

Pure: no I/O. Times and dates enter as ISO-8601 text only (what the OpenAPI
document says): a number, or a numeric string, which pydantic's lax mode would
read as Unix seconds, is a 422. Every time a request carries (query parameter or JSON body field)
goes through `to_utc` (the gateway's `Timestamp`, the backtest bodies' and
auth's `UtcTime`, and `UtcDate` for calendar dates): a naive time is UTC, an
aware one is converted, and one whose UTC value leaves the years 1-9999
(`0001-01-01T00:00:00+05:00`) is a `ValueError` naming the range, which
pydantic reports as a 422 on the field, never an `OverflowError` (a 500)
further in. Backfills are bounded on both sides: not before the source's
history start (nothing older exists upstream, and a year-1 backfill would be
filled with simulated candles), not after now plus a margin.
The gateway checks the bounds before queueing, the ingesters again when they
run the command.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

__all__ = [
    "EARLIEST_UTC",
    "LATEST_UTC",
    "REPRESENTABLE",
    "DateOutOfRange",
    "UtcDate",
    "UtcTime",
    "check_backfill_bounds",
    "day_start",
    "iso_z",
    "to_utc",
]

EARLIEST_UTC = datetime.min.replace(tzinfo=UTC)
LATEST_UTC = datetime.max.replace(tzinfo=UTC)
REPRESENTABLE = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"


class DateOutOfRange(ValueError):
    """A time that is valid but outside what the source or the operation allows."""


def to_utc(value: datetime) -> datetime:
    """Naive times are UTC; aware ones are converted to UTC. ValueError when the
    UTC value is not representable (before year 1 or after year 9999)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is outside the years 1 to 9999 once converted to UTC; "
            f"give a time from {REPRESENTABLE}"
        ) from None


# ISO-8601 text starts with its four-digit year; pydantic's lax parsing would also
# take a number, or a numeric string, as Unix seconds, which the document (a
# `date-time` or `date` string) does not say.
_ISO_START = re.compile(r"\d{4}-")


def _unix_seconds(value: object) -> bool:
    """A number, or text that is one and not ISO-8601: what lax pydantic would read
    as Unix seconds."""
    if isinstance(value, int | float):
        return True
    if not isinstance(value, str) or _ISO_START.match(value):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _iso_text(value: object, kind: str) -> object:
    """`value` unchanged unless it would be read as Unix seconds: then a ValueError
    (a 422 naming the field). `kind`: "time" or "date", what the field takes. Other
    text is left to pydantic, whose error says what a valid value is."""
    if not _unix_seconds(value):
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    example = "2024-01-01" if kind == "date" else "2024-01-01T00:00:00Z or 2024-01-01"
    raise ValueError(
        f"{shown} is not an ISO-8601 {kind}: give text such as {example} "
        "(a number of Unix seconds is not accepted)"
    )


def _time_text(value: object) -> object:
    return _iso_text(value, "time")


# A time: ISO-8601 text (or a datetime), converted to UTC.
UtcTime = Annotated[datetime, BeforeValidator(_time_text), AfterValidator(to_utc)]


def _date_of(value: object) -> object:
    """A date field given a time: the UTC date of a time at midnight UTC. Anything
    else is left to pydantic's date parsing (whose error names the field), but for
    numbers (Unix seconds in pydantic's lax mode), refused here."""
    value = _iso_text(value, "date")
    if isinstance(value, str) and len(value.strip()) > 10:
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, datetime):
        utc = to_utc(value)
        if utc.time() != time():
            raise ValueError(
                f"{value.isoformat()} is not a date: give YYYY-MM-DD, or a time at midnight "
                "UTC (zero time)"
            )
        return utc.date()
    return value


# A calendar date; a time is accepted only at midnight UTC (so an offset that moves
# it to another day, or out of the years 1-9999, is a 422, not a silent other day).
UtcDate = Annotated[date, BeforeValidator(_date_of)]


def day_start(day: date) -> datetime:
    """Midnight UTC of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


def iso_z(value: datetime) -> str:
    """`value` (aware) as `YYYY-MM-DDTHH:MM:SSZ`."""
    # isoformat, not strftime: "%Y" leaves year 1 unpadded ("1-01-01") on glibc.
    return to_utc(value).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def check_backfill_bounds(
    *,
    start: datetime,
    end: datetime,
    earliest: datetime,
    now: datetime,
    ahead: timedelta,
    source: str,
    setting: str,
) -> None:
    """DateOutOfRange unless `earliest <= start` and `end <= now + ahead` (all UTC);
    the message names the field, the bound and the setting that moves it."""
    if start < earliest:
        raise DateOutOfRange(
            f"start ({iso_z(start)}) is before the {source} history, which starts "
            f"{iso_z(earliest)} ({setting}); nothing older exists to backfill"
        )
    latest = now + ahead
    if end > latest:
        raise DateOutOfRange(
            f"end ({iso_z(end)}) is after {iso_z(latest)}, now plus {_days(ahead)}; "
            "a backfill can only fetch what exists"
        )


def _days(delta: timedelta) -> str:
    days = delta / timedelta(days=1)
    shown = f"{days:g}"
    return f"{shown} day" if shown == "1" else f"{shown} days"
