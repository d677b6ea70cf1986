"""NASDAQ and Nasdaq Nordic parsers on samples in the providers' formats."""

from __future__ import annotations

from datetime import date

import pytest

from ticktide_common.upstream import UpstreamFormatError, UpstreamRejectedError
from ticktide_ingest_stocks.nasdaq import HISTORICAL_HEADERS, parse_historical
from ticktide_ingest_stocks.nasdaq_format import BadNumber, plain_decimal
from ticktide_ingest_stocks.nordic import parse_chart, parse_screener

STATUS_OK = {"rCode": 200, "bCodeMessage": None, "developerMessage": None}


def us_answer(rows: list[dict[str, str]] | None) -> dict[str, object]:
    table = {"asOf": None, "headers": HISTORICAL_HEADERS, "rows": rows}
    data = {"symbol": "AAPL", "totalRecords": len(rows or []), "tradesTable": table}
    return {"data": data, "message": None, "status": STATUS_OK}


US_ROWS = [  # newest first, as served
    {
        "date": "09/25/2026",
        "close": "$1,341.07",
        "volume": "30,002,510",
        "open": "$1,336.04",
        "high": "$1,341.67",
        "low": "$1,334.53",
    },
    {
        "date": "09/24/2026",
        "close": "767.18",
        "volume": "43,983,660",
        "open": "764.065",
        "high": "768.95",
        "low": "763.245",
    },
]


def test_us_rows_lose_dollar_and_commas_oldest_first() -> None:
    page = parse_historical(us_answer(US_ROWS), "AAPL")
    assert [b.date for b in page.bars] == [date(2026, 9, 24), date(2026, 9, 25)]
    newest = page.bars[1]
    assert (newest.o, newest.h, newest.l, newest.c, newest.v) == (
        "1336.04",
        "1341.67",
        "1334.53",
        "1341.07",
        "30002510",
    )
    assert page.bars[0].o == "764.065" and page.refused == []


def test_us_row_with_na_is_refused_not_guessed() -> None:
    rows = [dict(US_ROWS[0], open="N/A"), US_ROWS[1], dict(US_ROWS[1], date="09/23/2026", low="")]
    page = parse_historical(us_answer(rows), "AAPL")
    assert [b.date for b in page.bars] == [date(2026, 9, 24)]
    assert len(page.refused) == 2 and "N/A" in page.refused[0]


def test_us_empty_range_and_error_block() -> None:
    assert parse_historical(us_answer(None), "AAPL").bars == []
    unknown = {
        "data": None,
        "message": None,
        "status": {
            "rCode": 400,
            "bCodeMessage": [{"code": 1001, "errorMessage": "Symbol not exists."}],
            "developerMessage": None,
        },
    }
    with pytest.raises(UpstreamRejectedError, match=r"Symbol not exists\. \(code 1001\)"):
        parse_historical(unknown, "NOPE")
    with pytest.raises(UpstreamFormatError):
        parse_historical(["not", "an", "object"], "AAPL")
    with pytest.raises(UpstreamFormatError):
        parse_historical({"data": {}}, "AAPL")


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("$184.40", "184.40"),
        ("55,467,800", "55467800"),
        ("$1,234,567.1234", "1234567.1234"),
        ("0.1368", "0.1368"),
        ("12", "12"),
    ],
)
def test_plain_decimal(raw: str, plain: str) -> None:
    assert plain_decimal(raw) == plain


@pytest.mark.parametrize("raw", ["N/A", "", "-", "$", "1,23", "1.2.3", "-5", None, 5])
def test_plain_decimal_refuses(raw: object) -> None:
    with pytest.raises(BadNumber):
        plain_decimal(raw)


def nordic_answer(rows: list[dict[str, str]], orderbook: str = "TX50063") -> dict[str, object]:
    return {
        "data": {
            "chartData": {"orderbookId": orderbook, "isin": "FI0009000681", "symbol": "NOKIA"},
            "charts": {"rows": rows},
        },
        "messages": None,
        "status": {"timestamp": "2024-12-05T13:48:46+0100", **STATUS_OK},
    }


# The chart's columns, and two rows of it as Nasdaq Nordic serves them.
NORDIC_COLUMNS = (
    "dateTime", "bid", "ask", "open", "high", "low", "close", "average", "totalVolume",
    "turnover", "trades",
)  # fmt: skip
NORDIC_ROWS = [
    dict(zip(NORDIC_COLUMNS, values, strict=True))
    for values in (
        ("2024-12-05", "4.0950", "4.0960", "", "4.1235", "4.0500", "4.0955", "4.0873",
         "14,639,094", "59,833,407.22", "9,071"),
        ("2024-12-04", "4.01", "4.02", "", "4.05", "3.98", "4.02", "4.0101",
         "9,100,000", "36,491,910.00", "7,000"),
    )
]  # fmt: skip


def test_nordic_chart_has_no_open_and_keeps_average_and_turnover() -> None:
    page = parse_chart(nordic_answer(NORDIC_ROWS), "TX50063")
    assert [b.date for b in page.bars] == [date(2024, 12, 4), date(2024, 12, 5)]
    bar = page.bars[1]
    assert bar.o is None
    assert (bar.h, bar.l, bar.c, bar.v) == ("4.1235", "4.0500", "4.0955", "14639094")
    assert (bar.average, bar.turnover) == ("4.0873", "59833407.22")


def test_nordic_chart_refuses_rows_without_close_and_checks_the_orderbook() -> None:
    page = parse_chart(nordic_answer([dict(NORDIC_ROWS[0], close=""), NORDIC_ROWS[1]]), "TX50063")
    assert [b.date for b in page.bars] == [date(2024, 12, 4)] and len(page.refused) == 1
    with pytest.raises(UpstreamFormatError):
        parse_chart(nordic_answer(NORDIC_ROWS, "TX1"), "TX50063")
    assert parse_chart(nordic_answer([]), "TX50063").bars == []


def test_nordic_screener() -> None:
    answer = {
        "data": {
            "instrumentListing": {
                "rows": [
                    {
                        "fullName": "Nordea Bank Abp",
                        "currency": "EUR",
                        "orderbookId": "TX24311",
                        "symbol": "NDA FI",
                        "isin": "FI4000297767",
                        "assetClass": "SHARES",
                    },
                    {"fullName": "no id", "symbol": "X"},
                ]
            }
        },
        "messages": None,
        "status": STATUS_OK,
    }
    rows = parse_screener(answer)
    assert [(r.symbol, r.orderbook_id, r.full_name, r.currency) for r in rows] == [
        ("NDA FI", "TX24311", "Nordea Bank Abp", "EUR")
    ]
