"""Trading sessions of the two exchanges, from the maintained `exchange-calendars`
package (no I/O: the calendars ship their holiday rules).

NASDAQ trades on the XNAS calendar (16:00 America/New_York close, early closes
included), Nasdaq Helsinki (OMXH) on XHEL (18:30 Europe/Helsinki). A session is
named by its date; weekends and exchange holidays are not sessions. Dates
outside the calendars' bounds (1990 to about a year ahead) have no sessions.
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd
from exchange_calendars import ExchangeCalendar

from ticktide_common.messages import StockExchange

__all__ = [
    "CALENDAR_CODES",
    "CALENDAR_START",
    "calendar_for",
    "date_windows",
    "is_session",
    "last_closed_session",
    "session_close",
    "sessions_between",
]

CALENDAR_CODES: dict[str, str] = {"NASDAQ": "XNAS", "OMXH": "XHEL"}
CALENDAR_START = "1990-01-01"


@lru_cache(maxsize=4)
def calendar_for(exchange: StockExchange) -> ExchangeCalendar:
    """The exchange's calendar (built once per process; building takes ~0.2 s)."""
    with warnings.catch_warnings():
        # The package's holiday rules trip pandas deprecation warnings that are not ours.
        warnings.simplefilter("ignore")
        return xcals.get_calendar(CALENDAR_CODES[exchange], start=CALENDAR_START)


def _bounds(cal: ExchangeCalendar) -> tuple[date, date]:
    return cal.first_session.date(), cal.last_session.date()


def sessions_between(exchange: StockExchange, start: date, end: date) -> list[date]:
    """Sessions with `start <= day < end`, oldest first."""
    cal = calendar_for(exchange)
    first, last = _bounds(cal)
    low, high = max(start, first), min(end - timedelta(days=1), last)
    if low > high:
        return []
    sessions = cal.sessions_in_range(pd.Timestamp(low), pd.Timestamp(high))
    return [stamp.date() for stamp in sessions]


def is_session(exchange: StockExchange, day: date) -> bool:
    cal = calendar_for(exchange)
    first, last = _bounds(cal)
    return first <= day <= last and bool(cal.is_session(pd.Timestamp(day)))


def session_close(exchange: StockExchange, day: date) -> datetime:
    """When the session of `day` closes (UTC); early closes included."""
    close = calendar_for(exchange).session_close(pd.Timestamp(day))
    return close.to_pydatetime().astimezone(UTC)


def last_closed_session(exchange: StockExchange, now: datetime) -> date | None:
    """The newest session whose close is at or before `now`."""
    today = now.astimezone(UTC).date()
    # Sessions of the last ~3 weeks are enough: no exchange closes longer than that.
    for day in reversed(
        sessions_between(exchange, today - timedelta(days=21), today + timedelta(days=2))
    ):
        if session_close(exchange, day) <= now:
            return day
    return None


def date_windows(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """`[start, end)` cut into windows of at most `days` days, newest first
    (each `(first, end)` with `end` exclusive)."""
    windows: list[tuple[date, date]] = []
    cursor = end
    while cursor > start:
        first = max(start, cursor - timedelta(days=days))
        windows.append((first, cursor))
        cursor = first
    return windows
