"""Parsing Binance klines and archive CSV: exact strings, ms vs µs, bad rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticktide_ingest_crypto.binance import (
    ArchiveError,
    KlineFormatError,
    open_time_to_ms,
    parse_archive_csv,
    parse_archive_name,
    parse_kline,
    parse_klines,
)

REST_ROW: list[object] = [
    1499040000000,
    "0.01634790",
    "0.80000000",
    "0.01575800",
    "0.01577100",
    "148976.11427815",
    1499644799999,
    "2434.19055334",
    308,
    "1756.87402397",
    "28.46694368",
    "0",
]

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore\n"
)
JAN_2024_MS = 1704067200000
JAN_2025_US = 1735689600000000


def test_rest_kline_keeps_the_exact_strings() -> None:
    candle = parse_kline(REST_ROW)
    assert candle.t == datetime(2017, 7, 3, tzinfo=UTC)
    assert (candle.o, candle.h, candle.l, candle.c, candle.v) == (
        "0.01634790",
        "0.80000000",
        "0.01575800",
        "0.01577100",
        "148976.11427815",
    )


def test_rest_klines_in_order() -> None:
    second = [1499040000000 + 3_600_000, *REST_ROW[1:]]
    assert [c.t.hour for c in parse_klines([REST_ROW, second])] == [0, 1]


@pytest.mark.parametrize(
    "payload",
    [
        {"code": -1121, "msg": "Invalid symbol."},
        [[1499040000000, 0.1, 0.2, 0.1, 0.1, 1.0]],  # numbers instead of strings
        [["1499040000000", "1", "1", "1", "1", "1"]],  # open time as a string
        [[1499040000000, "1", "abc", "1", "1", "1"]],
        [[1499040000000, "1"]],
    ],
)
def test_malformed_rest_answers_are_rejected(payload: object) -> None:
    with pytest.raises(KlineFormatError):
        parse_klines(payload)


def test_open_time_units_by_magnitude() -> None:
    assert open_time_to_ms(JAN_2024_MS) == JAN_2024_MS
    assert open_time_to_ms(JAN_2025_US) == JAN_2025_US // 1000


def _row(open_time: int, price: str = "42283.58000000") -> str:
    return (
        f"{open_time},{price},42554.57000000,42261.02000000,42475.23000000,"
        f"1271.68108000,{open_time + 3599999},53957248.97285520,47134,682.57581000,"
        "28957416.82132350,0\n"
    )


def test_csv_with_header_in_milliseconds_gives_2024() -> None:
    name = parse_archive_name("BTCUSDT-1h-2024-01.zip")
    data = (HEADER + _row(JAN_2024_MS) + _row(JAN_2024_MS + 3_600_000)).encode()
    candles = parse_archive_csv(data, name)
    assert [c.t for c in candles] == [
        datetime(2024, 1, 1, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=UTC),
    ]
    assert candles[0].o == "42283.58000000"
    assert candles[0].v == "1271.68108000"


def test_csv_without_header_in_microseconds_gives_2025() -> None:
    name = parse_archive_name("BTCUSDT-1h-2025-01.zip")
    data = (_row(JAN_2025_US) + _row(JAN_2025_US + 3_600_000_000)).encode()
    candles = parse_archive_csv(data, name)
    assert [c.t for c in candles] == [
        datetime(2025, 1, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 1, tzinfo=UTC),
    ]


def test_daily_file_name() -> None:
    name = parse_archive_name("ETHUSDT-4h-2024-02-29.zip")
    assert (name.symbol, name.interval, name.daily) == ("ETHUSDT", "4h", True)
    assert name.period_start == datetime(2024, 2, 29, tzinfo=UTC)
    assert name.period_end == datetime(2024, 3, 1, tzinfo=UTC)
    december = parse_archive_name("BTCUSDT-1d-2024-12.zip")
    assert december.period_end == datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "file_name, fragment",
    [
        ("BTCUSDT-1m-2024-01.zip", "interval '1m' is not supported"),
        ("BTCUSDT-1h-2024-13.zip", "invalid date"),
        ("btc-prices.zip", "not a Binance kline archive name"),
        ("BTCUSDT-1h-2024-02-30.zip", "invalid date"),
    ],
)
def test_bad_file_names(file_name: str, fragment: str) -> None:
    with pytest.raises(ArchiveError, match=fragment):
        parse_archive_name(file_name)


@pytest.mark.parametrize(
    "rows, fragment",
    [
        (_row(JAN_2024_MS) + "oops,1,2,3,4,5,6,7,8,9,10,11\n", "row 2: open time 'oops'"),
        (_row(JAN_2024_MS) + _row(JAN_2024_MS + 3_600_000, price="12..5"), "row 2: open "),
        (_row(JAN_2024_MS) + "1704070800000,1,2\n", "row 2: expected 12 columns"),
        (_row(JAN_2024_MS + 1800_000), "row 1: .* not on the 1h grid"),
        (_row(JAN_2024_MS // 1000), "row 1: .*outside the file's period"),
        ("time,o,h,l,c,v\n" + _row(JAN_2024_MS), "row 1: unknown header"),
    ],
)
def test_bad_rows_name_their_row(rows: str, fragment: str) -> None:
    with pytest.raises(ArchiveError, match=fragment):
        parse_archive_csv(rows.encode(), parse_archive_name("BTCUSDT-1h-2024-01.zip"))


def test_negative_prices_are_rejected() -> None:
    with pytest.raises(ArchiveError, match="row 1: open '-1' is not a non-negative number"):
        parse_archive_csv(
            _row(JAN_2024_MS, price="-1").encode(), parse_archive_name("BTCUSDT-1h-2024-01.zip")
        )
