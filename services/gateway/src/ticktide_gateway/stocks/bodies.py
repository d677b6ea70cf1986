"""JSON bodies of the stocks endpoints, built as bytes.

Pure: no I/O. Bars and observations arrive as JSON text written by PostgreSQL
from the stored values and are spliced in unparsed. Numbers that Python reads
from numerics (`Decimal`) become JSON numbers via `float(Decimal)`, which is the
same double as parsing the stored digits; nothing here rounds. `source` follows
crypto prices: the sources of the rows shown, "+"-joined, so "simulated"
appears whenever any row is simulated; null when there are no rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from ticktide_gateway.serialization import json_bytes, source_label, splice

__all__ = [
    "number",
    "stock_prices_body",
    "stock_price_columns_body",
    "multi_body",
    "stock_data_body",
    "latest_body",
    "stats_body",
    "stock_gaps_body",
]


class Row(Protocol):
    """A row by column name: a dict or an asyncpg Record."""

    def __getitem__(self, key: str, /) -> Any: ...


def number(value: Decimal | float | int | None) -> float | None:
    return float(value) if value is not None else None


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def stock_prices_body(
    symbol: str, exchange: str, bars_json: str | None, sources: Iterable[str]
) -> bytes:
    """`bars_json`: bar objects joined by commas, as PostgreSQL wrote them."""
    head = {"symbol": symbol, "exchange": exchange, "source": source_label(sources)}
    return splice(head, "prices", f"[{bars_json or ''}]")


def stock_price_columns_body(
    symbol: str, exchange: str, columns: Mapping[str, str], sources: Iterable[str]
) -> bytes:
    """The `format=columns` shape: `columns` maps each bar field, in the order
    given, to its values as JSON texts joined by commas, as PostgreSQL wrote them."""
    head = json_bytes({"symbol": symbol, "exchange": exchange, "source": source_label(sources)})
    lists = (f',"{field}":[{values}]'.encode() for field, values in columns.items())
    return b"".join((head[:-1], *lists, b"}"))


def multi_body(bodies: Sequence[bytes]) -> bytes:
    return b'{"stocks":[' + b",".join(bodies) + b"]}"


def stock_data_body(stock: Row, summary: Row, sources: Iterable[str], latest: str | None) -> bytes:
    head = {
        "symbol": stock["symbol"],
        "name": stock["name"],
        "exchange": stock["exchange"],
        "currency": stock["currency"],
        "source": source_label(sources),
        "first_date": _day(summary["first"]),
        "last_date": _day(summary["last"]),
        "days": int(summary["days"]),
    }
    encoded = json_bytes(head)
    return b"".join((encoded[:-1], b',"latest":', (latest or "null").encode(), b"}"))


def _latest_entry(row: Row) -> dict[str, Any]:
    close: Decimal | None = row["close_price"]
    previous: Decimal | None = row["previous_close"]
    change = close - previous if close is not None and previous is not None else None
    change_pct = change / previous * 100 if change is not None and previous else None
    return {
        "symbol": row["symbol"],
        "name": row["name"],
        "exchange": row["exchange"],
        "currency": row["currency"],
        "date": _day(row["datetime"]),
        "o": number(row["open_price"]),
        "h": number(row["high_price"]),
        "l": number(row["low_price"]),
        "c": number(close),
        "v": number(row["volume"]),
        "change": number(change),
        "change_pct": number(change_pct),
        "source": row["source"],
    }


def latest_body(exchange: str | None, rows: Sequence[Row]) -> bytes:
    """The newest bar of each stock with its change against the previous session's
    close (null without one); stocks with nothing stored carry nulls."""
    stocks = [_latest_entry(r) for r in rows]
    return json_bytes(
        {
            "exchange": exchange,
            "source": source_label(s["source"] for s in stocks if s["source"]),
            "stocks": stocks,
        }
    )


def stats_body(
    stock: Row, start: str | None, end: str | None, row: Row, sources: Iterable[str]
) -> bytes:
    days = int(row["days"])
    enough = days >= 2
    first_close, last_close = row["first_close"], row["last_close"]
    period_return = float(last_close) / float(first_close) - 1 if enough and first_close else None
    return json_bytes(
        {
            "symbol": stock["symbol"],
            "exchange": stock["exchange"],
            "source": source_label(sources),
            "start": start,
            "end": end,
            "days": days,
            "first_close": number(first_close),
            "last_close": number(last_close),
            "period_return": period_return,
            "annualized_volatility": number(row["annualized_volatility"]) if enough else None,
            "high_52w": number(row["high_52w"]),
            "low_52w": number(row["low_52w"]),
            "average_volume": number(row["average_volume"]),
            "max_drawdown": number(row["max_drawdown"]),
        }
    )


def stock_gaps_body(stock: Row, rows: Sequence[Row]) -> bytes:
    gaps = [
        {
            "start": r["gap_start"].isoformat(),
            "end": r["gap_end"].isoformat(),
            "sessions": int(r["sessions"]),
            "status": r["status"],
            "refill_attempts": int(r["refill_attempts"]),
            "detected_at": r["detected_at"],
            "last_attempt_at": r["last_attempt_at"],
            "refilled_at": r["refilled_at"],
        }
        for r in rows
    ]
    return json_bytes(
        {
            "symbol": stock["symbol"],
            "exchange": stock["exchange"],
            "open": sum(g["sessions"] for g in gaps if g["status"] == "open"),
            "refilled": sum(g["sessions"] for g in gaps if g["status"] == "refilled"),
            "gaps": gaps,
        }
    )
