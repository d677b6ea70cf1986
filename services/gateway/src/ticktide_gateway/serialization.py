"""JSON bodies of the crypto endpoints, built as bytes with orjson.

Pure: no I/O. Prices arrive as float8 (PostgreSQL's numeric→float8 cast is
correctly rounded), so `repr` of each JSON number gives back the provider's
decimal string; nothing here rounds. Times are ISO-8601 UTC with a `Z`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import orjson

__all__ = ["source_label", "prices_body", "symbols_body", "json_bytes", "iso_utc",
           "iso_from_epoch_seconds"]

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def json_bytes(value: Any) -> bytes:
    """orjson with UTC times as `...Z`."""
    return orjson.dumps(value, option=_OPTIONS)


def iso_utc(value: datetime | None) -> str | None:
    return orjson.dumps(value, option=_OPTIONS)[1:-1].decode() if value is not None else None


def source_label(sources: Iterable[str]) -> str | None:
    """'binance', 'simulated', 'binance+simulated' when mixed, None when no rows."""
    distinct = sorted(set(sources))
    return "+".join(distinct) if distinct else None


_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_STRINGS: dict[int, str] = {}
_TIME_OF_DAY_STRINGS: dict[int, str] = {}


def _day_string(day: int) -> str:
    text = _DAY_STRINGS[day] = date.fromordinal(_UNIX_EPOCH_ORDINAL + day).isoformat()
    return text


def _time_of_day_string(second: int) -> str:
    hours, rest = divmod(second, 3600)
    text = _TIME_OF_DAY_STRINGS[second] = f"T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
    return text


def iso_from_epoch_seconds(epoch: int) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' of Unix seconds."""
    day, second = divmod(epoch, 86400)
    return (_DAY_STRINGS.get(day) or _day_string(day)) + (
        _TIME_OF_DAY_STRINGS.get(second) or _time_of_day_string(second))


def prices_body(symbol: str, interval: str, rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows are (t as Unix seconds, o, h, l, c, v, source) ordered by t.

    Times come as integers and are formatted from cached day and time-of-day
    strings (a year of hourly candles has 365 days and 24 times of day):
    decoding 8,760 timestamps into datetime objects costs more than this."""
    days, times = _DAY_STRINGS, _TIME_OF_DAY_STRINGS
    candles = []
    for r in rows:
        day, second = divmod(r[0], 86400)
        t = (days.get(day) or _day_string(day)) + (times.get(second)
                                                    or _time_of_day_string(second))
        candles.append({"t": t, "o": r[1], "h": r[2], "l": r[3], "c": r[4], "v": r[5]})
    return json_bytes({
        "symbol": symbol,
        "interval": interval,
        "source": source_label(r[6] for r in rows),
        "candles": candles,
    })


def symbols_body(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows are one per (symbol, stored interval), interval None when nothing is stored."""
    by_symbol: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_symbol.setdefault(row["binance_symbol"], {
            "symbol": row["binance_symbol"], "base": row["base"], "name": row["name"],
            "source": None, "intervals": {},
        })
        if row["interval_type"] is None:
            continue
        sources = list(row["sources"] or [])
        entry["intervals"][row["interval_type"]] = {
            "candles": int(row["candles"]), "first": row["first"], "last": row["last"],
            "source": source_label(sources),
        }
    for entry in by_symbol.values():
        labels = (i["source"] for i in entry["intervals"].values() if i["source"])
        entry["source"] = source_label(part for label in labels for part in label.split("+"))
    return json_bytes({"symbols": list(by_symbol.values())})
