"""Nasdaq Nordic's answers (pure parsers): the share screener and the daily
price history of one order book (Helsinki shares here).

Screener: `GET /api/nordic/screener/shares?category=MAIN_MARKET&tableonly=false&market=HEL`
answers `data.instrumentListing.rows[]` with `orderbookId` ("TX50063", older ids
"HEX24311"), `symbol` as Nasdaq spells it ("NOKIA", "NDA FI"), `fullName`,
`currency`, `isin`, `sector` and quote columns as strings.

History: `GET /api/nordic/instruments/{orderbookId}/chart/download` with
`assetClass=SHARES&fromDate=YYYY-MM-DD&toDate=YYYY-MM-DD` (both inclusive)
answers `data.chartData` (`orderbookId`, `isin`, `symbol`, ...)
and `data.charts.rows[]`, newest first, each
`{"dateTime": "2024-12-05", "bid", "ask", "open", "high", "low", "close",
"average", "totalVolume", "turnover", "trades"}` — numbers as strings with comma
thousands separators ("14,639,094", "9.128"), "" where no value was published.
Helsinki publishes no opening price in this history, so `open` is "" and the
bar's `o` is None: an open is never invented (one that is published is kept).

Based on public clients of api.nasdaq.com/api/nordic (schemas validated
against live answers, 2024-2026); the market code of Helsinki in the screener
is `HEL` (STO, CPH, ICE for the others). The status block is the same as the
US API's (see `answers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ticktide_common.messages import StockBarV1
from ticktide_common.upstream import UpstreamFormatError
from ticktide_ingest_stocks.nasdaq_format import (
    BadNumber,
    ParsedPage,
    check_status,
    collect_bars,
    optional_decimal,
    plain_decimal,
)

__all__ = [
    "CHART_HEADERS",
    "HELSINKI_MARKET",
    "SCREENER_PATH",
    "ScreenerRow",
    "chart_params",
    "chart_path",
    "parse_chart",
    "parse_screener",
    "screener_params",
]

HELSINKI_MARKET = "HEL"
SCREENER_PATH = "/api/nordic/screener/shares"
CHART_HEADERS = {
    "dateTime": "Date",
    "bid": "Bid",
    "ask": "Ask",
    "open": "Opening price",
    "high": "High price",
    "low": "Low price",
    "close": "Closing price",
    "average": "Average price",
    "totalVolume": "Total volume",
    "turnover": "Turnover",
    "trades": "Trades",
}


@dataclass(frozen=True)
class ScreenerRow:
    orderbook_id: str
    symbol: str
    full_name: str
    currency: str
    isin: str


def screener_params(market: str = HELSINKI_MARKET) -> dict[str, str]:
    return {"category": "MAIN_MARKET", "tableonly": "false", "market": market}


def chart_path(orderbook_id: str) -> str:
    return f"/api/nordic/instruments/{orderbook_id}/chart/download"


def chart_params(first: date, last: date) -> dict[str, str]:
    return {"assetClass": "SHARES", "fromDate": first.isoformat(), "toDate": last.isoformat()}


def parse_screener(payload: object) -> list[ScreenerRow]:
    body = check_status(payload, "Nasdaq Nordic", "the share screener")
    data = body.get("data")
    listing = data.get("instrumentListing") if isinstance(data, dict) else None
    rows = listing.get("rows") if isinstance(listing, dict) else None
    if not isinstance(rows, list):
        raise UpstreamFormatError("Nasdaq Nordic screener: no data.instrumentListing.rows")
    found: list[ScreenerRow] = []
    for row in rows:
        if not isinstance(row, dict) or not row.get("orderbookId") or not row.get("symbol"):
            continue
        found.append(
            ScreenerRow(
                orderbook_id=str(row["orderbookId"]),
                symbol=str(row["symbol"]),
                full_name=str(row.get("fullName") or row["symbol"]),
                currency=str(row.get("currency") or ""),
                isin=str(row.get("isin") or ""),
            )
        )
    return found


def _bar(row: dict[str, Any]) -> StockBarV1:
    raw_day = row.get("dateTime")
    if not isinstance(raw_day, str):
        raise BadNumber(f"not a date: {raw_day!r}")
    try:
        day = date.fromisoformat(raw_day.strip())
    except ValueError as exc:
        raise BadNumber(f"not a date: {raw_day!r}") from exc
    return StockBarV1(
        date=day,
        o=optional_decimal(row.get("open")),
        h=plain_decimal(row.get("high")),
        l=plain_decimal(row.get("low")),
        c=plain_decimal(row.get("close")),
        v=plain_decimal(row.get("totalVolume")),
        average=optional_decimal(row.get("average")),
        turnover=optional_decimal(row.get("turnover")),
    )


def parse_chart(payload: object, orderbook_id: str) -> ParsedPage:
    """Bars of one chart/download answer, oldest first; rows without a high,
    low, close or volume are refused."""
    body = check_status(payload, "Nasdaq Nordic", orderbook_id)
    data = body.get("data")
    if data is None:
        return ParsedPage([])
    if not isinstance(data, dict):
        raise UpstreamFormatError(f"Nasdaq Nordic answer for {orderbook_id}: data is not an object")
    chart_data = data.get("chartData")
    if isinstance(chart_data, dict) and chart_data.get("orderbookId") not in (None, orderbook_id):
        raise UpstreamFormatError(
            f"Nasdaq Nordic answered {chart_data.get('orderbookId')} for {orderbook_id}"
        )
    charts = data.get("charts")
    rows = charts.get("rows") if isinstance(charts, dict) else None
    if rows is None:
        return ParsedPage([])
    if not isinstance(rows, list):
        raise UpstreamFormatError(f"Nasdaq Nordic answer for {orderbook_id}: rows is not a list")
    return collect_bars(rows, _bar, "dateTime")
