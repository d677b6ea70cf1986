"""NASDAQ's historical-quote answer (pure parser).

`GET /api/quote/{SYMBOL}/historical?assetclass=stocks&fromdate=YYYY-MM-DD&todate=YYYY-MM-DD&limit=N`
(both dates inclusive) answers

    {"data": {"symbol": "AAPL", "totalRecords": 2,
              "tradesTable": {"asOf": null,
                              "headers": {"date": "Date", "close": "Close/Last", "volume": "Volume",
                                          "open": "Open", "high": "High", "low": "Low"},
                              "rows": [{"date": "09/25/2026", "close": "$1,341.07",
                                        "volume": "30,002,510", "open": "$1,336.04",
                                        "high": "$1,341.67", "low": "$1,334.53"}, ...]}},
     "message": null,
     "status": {"rCode": 200, "bCodeMessage": null, "developerMessage": null}}

rows newest first; a range without sessions has `"rows": null` and
`totalRecords: 0`; an unknown symbol answers `data: null`, `rCode: 400`,
`bCodeMessage: [{"code": 1001, "errorMessage": "Symbol not exists."}]`. Based on
answers recorded by public projects (fixtures "trimmed from real responses" and
parsers of api.nasdaq.com, 2024-2026). Prices lose their `$` and thousands
separators here; a row with "N/A" or an empty value is refused (reported, not
stored), never guessed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ticktide_common.messages import StockBarV1
from ticktide_common.upstream import UpstreamFormatError
from ticktide_ingest_stocks.nasdaq_format import (
    BadNumber,
    ParsedPage,
    check_status,
    collect_bars,
    plain_decimal,
)

__all__ = [
    "HISTORICAL_HEADERS",
    "ParsedPage",
    "historical_params",
    "historical_path",
    "parse_historical",
    "parse_us_date",
]

HISTORICAL_HEADERS = {
    "date": "Date",
    "close": "Close/Last",
    "volume": "Volume",
    "open": "Open",
    "high": "High",
    "low": "Low",
}


def historical_path(provider_symbol: str) -> str:
    return f"/api/quote/{provider_symbol}/historical"


def historical_params(first: date, last: date, limit: int) -> dict[str, str]:
    """Query of one request for sessions `first`..`last` (inclusive)."""
    return {
        "assetclass": "stocks",
        "fromdate": first.isoformat(),
        "todate": last.isoformat(),
        "limit": str(limit),
    }


def parse_us_date(raw: object) -> date:
    if not isinstance(raw, str):
        raise BadNumber(f"not a date: {raw!r}")
    try:
        return datetime.strptime(raw.strip(), "%m/%d/%Y").date()
    except ValueError as exc:
        raise BadNumber(f"not a date: {raw!r}") from exc


def _bar(row: dict[str, Any]) -> StockBarV1:
    return StockBarV1(
        date=parse_us_date(row.get("date")),
        o=plain_decimal(row.get("open")),
        h=plain_decimal(row.get("high")),
        l=plain_decimal(row.get("low")),
        c=plain_decimal(row.get("close")),
        v=plain_decimal(row.get("volume")),
    )


def parse_historical(payload: object, symbol: str) -> ParsedPage:
    """The bars of one historical answer; raises on an error status block
    (`UpstreamRejectedError`) or an answer of another shape (`UpstreamFormatError`)."""
    body = check_status(payload, "NASDAQ", symbol)
    data = body.get("data")
    if data is None:
        return ParsedPage([])
    if not isinstance(data, dict):
        raise UpstreamFormatError(f"NASDAQ answer for {symbol}: data is not an object")
    table = data.get("tradesTable")
    if table is None:
        return ParsedPage([])
    if not isinstance(table, dict):
        raise UpstreamFormatError(f"NASDAQ answer for {symbol}: tradesTable is not an object")
    rows = table.get("rows") or []
    if not isinstance(rows, list):
        raise UpstreamFormatError(f"NASDAQ answer for {symbol}: rows is not a list")
    return collect_bars(rows, _bar, "date")
