"""The two paths of `parse_archive_csv` agree: the fast one (column-wide string
checks, candles built without a second validation) gives exactly the candles
of the exact one (csv module, Decimal and `CandleV1` per row) on archives as
Binance writes them, and gives way to it on anything else, so that every bad
file still gets the exact path's message with its row number."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticktide_common.messages import CandleV1
from ticktide_ingest_crypto.binance import (
    ArchiveError,
    ArchiveName,
    _exact_archive_candles,
    _plain_archive_candles,
    _trusted_candle,
    parse_archive_csv,
    parse_archive_name,
)

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
HOUR_MS = 3_600_000
JAN_2024 = parse_archive_name("BTCUSDT-1h-2024-01.zip")
JAN_2024_MS = 1704067200000
JAN_2025 = parse_archive_name("BTCUSDT-1h-2025-01.zip")
JAN_2025_MS = 1735689600000

Outcome = tuple[str, object]


def _decimal(units: int) -> str:
    """A Binance-style 8-decimal string from a count of 1e-8 (as bench/ingest.py)."""
    return f"{units // 100_000_000}.{units % 100_000_000:08d}"


def _binance_lines(
    first_ms: int, count: int, step: int = HOUR_MS, micro: bool = False
) -> list[str]:
    """Rows as in Binance's archives: a random walk of 8-decimal prices."""
    lines = []
    price = 20_000 * 100_000_000
    scale = 1000 if micro else 1
    for i in range(count):
        close = max(100_000_000, price + ((i * 2_654_435_761) % 2_000_001 - 1_000_000) * 1_000)
        high = max(price, close) + (i % 97) * 10_000
        low = min(price, close) - (i % 89) * 10_000
        open_ms = first_ms + i * step
        lines.append(
            f"{open_ms * scale},{_decimal(price)},{_decimal(high)},{_decimal(low)},"
            f"{_decimal(close)},{_decimal((i % 5_000 + 1) * 12_345_678)},"
            f"{(open_ms + step) * scale - 1},{_decimal(i * 987_654_321)},{i % 900 + 1},"
            f"{_decimal(i * 1_234_567)},{_decimal(i * 7_654_321)},0"
        )
        price = close
    return lines


def _snapshot(candles: list[CandleV1]) -> list[tuple[object, ...]]:
    """What must be equal between the paths, the tzinfo's identity included."""
    return [(c.t, c.t.tzinfo is UTC, c.o, c.h, c.l, c.c, c.v, c.model_fields_set) for c in candles]


def _outcome(parse: Callable[[], list[CandleV1]]) -> Outcome:
    try:
        return "candles", _snapshot(parse())
    except Exception as exc:  # the exact path's csv.Error too: the same either way
        return type(exc).__name__, str(exc)


def _exact(data: bytes, name: ArchiveName) -> Outcome:
    return _outcome(lambda: _exact_archive_candles(data.decode("utf-8-sig"), name))


def _fast(data: bytes, name: ArchiveName) -> list[CandleV1] | None:
    return _plain_archive_candles(data.decode("utf-8-sig"), name)


def _assert_fast_path_equals_exact(data: bytes, name: ArchiveName) -> None:
    fast = _fast(data, name)
    assert fast is not None, "the fast path gave way on a plain archive"
    exact = _exact(data, name)
    assert exact[0] == "candles" and exact[1]
    assert ("candles", _snapshot(fast)) == exact
    assert _outcome(lambda: parse_archive_csv(data, name)) == exact
    assert all(candle.t.tzinfo is UTC for candle in fast)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\n".join(_binance_lines(JAN_2024_MS, 744)) + "\n", id="month, no header"),
        pytest.param("\n".join([HEADER, *_binance_lines(JAN_2024_MS, 744)]), id="header, no EOL"),
        pytest.param("\r\n".join([HEADER, *_binance_lines(JAN_2024_MS, 30)]) + "\r\n", id="CRLF"),
        pytest.param(
            "\n\n".join(_binance_lines(JAN_2024_MS, 30)) + "\n\n\n", id="blank lines, trailing"
        ),
        pytest.param("\r\n".join(_binance_lines(JAN_2024_MS, 3)), id="CRLF, no final EOL"),
        pytest.param(
            "\r\n\r\n".join(_binance_lines(JAN_2024_MS, 3)) + "\r\n\r\n", id="CRLF blank lines"
        ),
        pytest.param("\n" + "\n".join(_binance_lines(JAN_2024_MS, 5)), id="blank first line"),
        pytest.param("\ufeff" + HEADER + "\n" + _binance_lines(JAN_2024_MS, 1)[0], id="BOM"),
        pytest.param("\n".join(_binance_lines(JAN_2024_MS, 24)[::3]), id="gaps: every third hour"),
        pytest.param("\n".join(reversed(_binance_lines(JAN_2024_MS, 24))), id="descending"),
        pytest.param(
            "\n".join(_binance_lines(JAN_2024_MS + 743 * HOUR_MS, 1)), id="last hour of month"
        ),
        pytest.param(
            "\n".join(",".join(line.split(",")[:6]) for line in _binance_lines(JAN_2024_MS, 3)),
            id="six columns",
        ),
        pytest.param(
            "\n".join(_binance_lines(JAN_2024_MS, 3)).replace(",20000.", ",0020000."),
            id="leading zeros",
        ),
    ],
)
def test_plain_archives_take_the_fast_path_with_equal_candles(text: str) -> None:
    _assert_fast_path_equals_exact(text.encode(), JAN_2024)


@pytest.mark.parametrize("header", [False, True])
def test_microsecond_open_times_take_the_fast_path(header: bool) -> None:
    lines = _binance_lines(JAN_2025_MS, 744, micro=True)
    # A µs time is floored to its millisecond, as open_time_to_ms does.
    sixth_us = (JAN_2025_MS + 5 * HOUR_MS) * 1000
    lines[5] = lines[5].replace(f"{sixth_us},", f"{sixth_us + 999},", 1)
    text = "\n".join(([HEADER] if header else []) + lines) + "\n"
    _assert_fast_path_equals_exact(text.encode(), JAN_2025)


def test_a_file_of_both_units_takes_the_fast_path() -> None:
    lines = _binance_lines(JAN_2024_MS, 4)
    lines[2:] = _binance_lines(JAN_2024_MS, 4, micro=True)[2:]
    _assert_fast_path_equals_exact("\n".join(lines).encode(), JAN_2024)


@pytest.mark.parametrize(
    "file_name, step",
    [("ETHUSDT-4h-2024-02-29.zip", 4 * HOUR_MS), ("ETHUSDT-1d-2024-12.zip", 24 * HOUR_MS)],
)
def test_other_intervals_take_the_fast_path(file_name: str, step: int) -> None:
    name = parse_archive_name(file_name)
    first_ms = int(name.period_start.timestamp()) * 1000
    count = (int(name.period_end.timestamp()) * 1000 - first_ms) // step
    _assert_fast_path_equals_exact("\n".join(_binance_lines(first_ms, count, step)).encode(), name)


def _with_row_2(replace: Callable[[list[str]], list[str]]) -> bytes:
    lines = _binance_lines(JAN_2024_MS, 3)
    lines[1] = ",".join(replace(lines[1].split(",")))
    return ("\n".join(lines) + "\n").encode()


def _cell(index: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda cells: [*cells[:index], value, *cells[index + 1 :]]


BAD_ROW_2 = {
    "negative price": (_cell(1, "-1"), "row 2: open '-1' is not a non-negative number"),
    "two points": (_cell(2, "1.2.3"), "row 2: high '1.2.3' is not a decimal number"),
    "empty price": (_cell(3, ""), "row 2: low '' is not a decimal number"),
    "letters": (_cell(4, "abc"), "row 2: close 'abc' is not a decimal number"),
    "point alone": (_cell(5, "."), "row 2: volume '.' is not a decimal number"),
    "too long": (_cell(1, "1" * 65), "row 2: 1 validation error for CandleV1"),
    "separator": (_cell(1, "1_000"), "row 2: 1 validation error for CandleV1"),
    "other digits": (_cell(1, "\u0663"), "row 2: 1 validation error for CandleV1"),
    "NaN": (_cell(1, "NaN"), "row 2: open 'NaN' is not a non-negative number"),
    "infinity": (_cell(1, "Infinity"), "row 2: open 'Infinity' is not a non-negative number"),
    "negative exponent": (_cell(1, "-1e-8"), "row 2: open '-1e-8' is not a non-negative"),
    "five columns": (lambda cells: cells[:5], "row 2: expected 12 columns, found 5"),
    "time not a number": (_cell(0, "oops"), "row 2: open time 'oops' is not an integer"),
    "time negative": (_cell(0, "-3600000"), "row 2: open time '-3600000' is not an integer"),
    "time with point": (_cell(0, "1704070800000.0"), "row 2: open time '1704070800000.0'"),
    "time of 5000 digits": (_cell(0, "1" * 5000), "row 2: open time '1111"),
    "time empty": (_cell(0, ""), "row 2: open time '' is not an integer"),
    "time off grid": (_cell(0, str(JAN_2024_MS + 1)), "row 2: .* not on the 1h grid"),
    "time in seconds": (_cell(0, str(JAN_2024_MS // 1000)), "row 2: .* outside the file's"),
    "time next month": (_cell(0, str(JAN_2024_MS + 744 * HOUR_MS)), "row 2: .* outside the"),
    "time before": (_cell(0, str(JAN_2024_MS - HOUR_MS)), "row 2: .* outside the file's"),
    "quoted bad price": (_cell(1, '"1,5"'), "row 2: open '1,5' is not a decimal number"),
}


@pytest.mark.parametrize("case", BAD_ROW_2)
def test_bad_rows_leave_the_fast_path_and_keep_their_message(case: str) -> None:
    replace, message = BAD_ROW_2[case]
    data = _with_row_2(replace)
    assert _fast(data, JAN_2024) is None
    kind, exact_message = _exact(data, JAN_2024)
    assert kind == "ArchiveError"
    with pytest.raises(ArchiveError, match=message) as raised:
        parse_archive_csv(data, JAN_2024)
    assert str(raised.value) == exact_message


UNUSUAL_BUT_VALID = {
    "sign": _cell(1, "+1"),
    "exponent": _cell(2, "1e-8"),
    "capital exponent": _cell(3, "1E5"),
    "minus zero": _cell(4, "-0"),
    "spaces": _cell(5, " 7.5 "),
    "quoted": _cell(1, '"42283.58000000"'),
    "time with spaces": _cell(0, f" {JAN_2024_MS + HOUR_MS} "),
    "time with plus": _cell(0, f"+{JAN_2024_MS + HOUR_MS}"),
}


@pytest.mark.parametrize("case", UNUSUAL_BUT_VALID)
def test_unusual_valid_rows_go_the_exact_way(case: str) -> None:
    data = _with_row_2(UNUSUAL_BUT_VALID[case])
    assert _fast(data, JAN_2024) is None
    exact = _exact(data, JAN_2024)
    assert exact[0] == "candles"
    assert _outcome(lambda: parse_archive_csv(data, JAN_2024)) == exact


@pytest.mark.parametrize(
    "replace",
    [_cell(1, ".5"), _cell(2, "5."), _cell(3, "0"), _cell(4, "1" * 64), _cell(5, "1." + "0" * 62)],
    ids=["point first", "point last", "integer", "64 digits", "64 characters"],
)
def test_plain_decimals_of_every_shape_take_the_fast_path(
    replace: Callable[[list[str]], list[str]],
) -> None:
    _assert_fast_path_equals_exact(_with_row_2(replace), JAN_2024)


@pytest.mark.parametrize(
    "text",
    [
        "time,o,h,l,c,v\n" + _binance_lines(JAN_2024_MS, 1)[0],  # unknown header
        HEADER.upper() + "\n" + _binance_lines(JAN_2024_MS, 1)[0],  # exact: case-blind
        " " + HEADER + "\n" + _binance_lines(JAN_2024_MS, 1)[0],
        "\n" + HEADER + "\n" + _binance_lines(JAN_2024_MS, 1)[0],  # a header not in row 1
        _binance_lines(JAN_2024_MS, 1)[0] + "\n" + HEADER,
        _binance_lines(JAN_2024_MS, 1)[0] + "\r" + _binance_lines(JAN_2024_MS + HOUR_MS, 1)[0],
        "\r\n".join(_binance_lines(JAN_2024_MS, 3)) + "\n" + _binance_lines(JAN_2024_MS, 4)[3],
        "\r\n".join(_binance_lines(JAN_2024_MS, 3)) + "\r",
        _binance_lines(JAN_2024_MS, 1)[0] + ",\r\n , , ,\n",  # a row of blank cells
        _binance_lines(JAN_2024_MS, 1)[0] + "," + "x" * (csv.field_size_limit() + 1),
        # csv reads one row: the quoted cell holds the newline and the second line.
        _binance_lines(JAN_2024_MS, 1)[0] + ',"a\n' + _binance_lines(JAN_2024_MS, 2)[1] + '"',
    ],
    ids=[
        "unknown header",
        "capital header",
        "spaced header",
        "header in row 2",
        "header last",
        "lone CR",
        "CRLF and LF",
        "final CR",
        "blank cells",
        "cell over csv limit",
        "quoted newline",
    ],
)
def test_odd_files_leave_the_fast_path_with_the_same_outcome(text: str) -> None:
    data = text.encode()
    assert _fast(data, JAN_2024) is None
    assert _outcome(lambda: parse_archive_csv(data, JAN_2024)) == _exact(data, JAN_2024)


def test_empty_and_header_only_files_have_no_candles() -> None:
    for text in ["", "\n\n", HEADER, HEADER + "\r\n\r\n"]:
        assert _fast(text.encode(), JAN_2024) == []
        assert _exact(text.encode(), JAN_2024) == ("candles", [])


def test_a_trusted_candle_is_the_validated_candle() -> None:
    t = datetime(2024, 1, 1, 5, tzinfo=UTC)
    fields = {"o": "1.5", "h": "2", "l": ".5", "c": "1.", "v": "0"}
    trusted = _trusted_candle(t, *fields.values())
    validated = CandleV1(t=t, **fields)
    constructed = CandleV1.model_construct(t=t, **fields)
    for other in (validated, constructed):
        assert trusted == other and hash(trusted) == hash(other)
        assert trusted.__dict__ == other.__dict__
        assert trusted.model_fields_set == other.model_fields_set
        assert (trusted.__pydantic_extra__, trusted.__pydantic_private__) == (
            other.__pydantic_extra__,
            other.__pydantic_private__,
        )
        assert trusted.model_dump_json() == other.model_dump_json()
    assert trusted.model_fields_set is not _trusted_candle(t, *fields.values()).model_fields_set
    with pytest.raises(ValueError, match="frozen"):
        trusted.o = "3"  # type: ignore[misc]


# Cells a file might hold, good and bad, for the randomized comparison below.
GOOD_PRICES = ["42283.58000000", "0.00000001", "7", "5.", ".5", "0", "1" * 64]
BAD_PRICES = ["-1", "+1", "1e-8", "", ".", "1.2.3", "1" * 65, " 1.5", "a", '"2.5"', "NaN", "\u0663"]
BAD_TIMES = ["oops", "", "-1", " 0", "+0", "1.0", '"0"', "99999999999999999999999"]


@st.composite
def archive_texts(draw: st.DrawFn) -> str:
    hours = draw(st.lists(st.integers(-2, 745), min_size=0, max_size=12))
    micro = draw(st.booleans())
    lines = []
    for hour in hours:
        open_ms = JAN_2024_MS + hour * HOUR_MS + draw(st.sampled_from([0, 0, 0, 1, 1800_000]))
        time = str(open_ms * 1000 + draw(st.integers(0, 999)) if micro else open_ms)
        if draw(st.integers(0, 9)) == 0:
            time = draw(st.sampled_from(BAD_TIMES))
        prices = [
            draw(st.sampled_from(BAD_PRICES if draw(st.integers(0, 19)) == 0 else GOOD_PRICES))
            for _ in range(5)
        ]
        rest = ["0", "1", "0", "0", "0", "0"][: draw(st.sampled_from([6, 6, 6, 0, 1, 7]))]
        lines.append(",".join([time, *prices, *rest]))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", " ", ",,,,,", "\r"])))
    if draw(st.booleans()):
        lines.insert(0, draw(st.sampled_from([HEADER, HEADER.upper(), "time,o,h,l,c,v", ""])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))


@settings(max_examples=400, deadline=None)
@given(archive_texts())
def test_both_paths_agree_on_any_file(text: str) -> None:
    data = text.encode()
    exact = _exact(data, JAN_2024)
    assert _outcome(lambda: parse_archive_csv(data, JAN_2024)) == exact
    fast = _fast(data, JAN_2024)
    if fast is not None:
        assert ("candles", _snapshot(fast)) == exact


def test_the_randomized_files_reach_both_paths() -> None:
    """Guards the test above against a generator that only ever falls back."""
    reached: set[bool] = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(archive_texts())
    def record(text: str) -> None:
        reached.add(_fast(text.encode(), JAN_2024) is None)

    record()
    assert reached == {True, False}


def test_the_exact_path_reads_cells_as_the_csv_module_does() -> None:
    """The premise of splitting on ',': without '"' or a lone CR, csv splits
    exactly there, whatever other control characters a cell holds."""
    line = "1,a\x00b,c\x0bd\x0ce\x1cf\x85g\u2028h,i"
    assert list(csv.reader(io.StringIO(line + "\n"))) == [line.split(",")]
