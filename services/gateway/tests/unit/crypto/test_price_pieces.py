"""Pieces of a series and answers assembled from them: any window cut out of
any run of pieces is exactly the candles a direct read of that window gives,
in both shapes, with the sources of those candles only."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from ticktide_gateway.crypto.price_pieces import (
    COLUMNS,
    Piece,
    assemble_prices,
    cut_to_window,
    next_piece,
    piece_label,
    piece_of,
    pieces_covering,
    split_into_pieces,
)

STEP = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1)}
CODES = {"binance": b"b", "binance-archive": b"a", "simulated": b"s"}
T0 = datetime(2023, 11, 20, tzinfo=UTC)


def candles(interval: str, count: int, seed: int = 1) -> list[dict]:
    """Candles with holes, numbers as stored digits, a mix of sources."""
    rng = random.Random(seed)
    out, t = [], T0
    for _ in range(count):
        t += STEP[interval] * (1 if rng.random() > 0.1 else rng.randint(2, 30))
        price = f"{rng.uniform(1, 90000):.2f}000000"
        out.append(
            {
                "t": t,
                "o": price,
                "h": price,
                "l": f"{rng.uniform(1, 9):.8f}",
                "c": "42000.10000000",
                "v": f"{rng.uniform(0, 1e6):.5f}000",
                "source": rng.choice(["binance", "binance", "binance-archive", "simulated"]),
            }
        )
    return out


def as_pieces(interval: str, rows: list[dict], shape: str) -> list[Piece]:
    """What PostgreSQL renders per piece, rendered here from the same rows."""
    starts = pieces_covering(interval, rows[0]["t"], rows[-1]["t"] + timedelta(seconds=1))
    pieces = []
    for start in starts:
        members = [r for r in rows if start <= r["t"] < next_piece(interval, start)]
        codes = b"".join(CODES[r["source"]] for r in members)
        if shape == "rows":
            objects = ",".join(
                f'{{"t":"{r["t"]:%Y-%m-%dT%H:%M:%SZ}","o":{r["o"]},"h":{r["h"]},'
                f'"l":{r["l"]},"c":{r["c"]},"v":{r["v"]}}}'
                for r in members
            )
            pieces.append(Piece(codes, (objects.encode(),)))
        else:
            t = ",".join(str(int(r["t"].timestamp())) for r in members)
            rest = [",".join(r[k] for r in members) for k in COLUMNS[1:]]
            pieces.append(Piece(codes, tuple(x.encode() for x in (t, *rest))))
    return pieces


def expected(rows: list[dict], start, end, limit: int, newest: bool) -> list[dict]:
    inside = [r for r in rows if (start is None or r["t"] >= start) and r["t"] < end]
    return inside[-limit:] if newest else inside[:limit]


def decoded(body: bytes, shape: str) -> tuple[list[tuple], str | None]:
    answer = json.loads(body)
    if shape == "rows":
        got = [(c["t"], c["o"], c["h"], c["l"], c["c"], c["v"]) for c in answer["candles"]]
    else:
        times = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in answer["t"]]
        got = list(zip(times, *(answer[k] for k in COLUMNS[1:]), strict=True))
    return got, answer["source"]


@pytest.mark.parametrize("interval", ["1h", "4h", "1d"])
@pytest.mark.parametrize("shape", ["rows", "columns"])
def test_any_window_of_the_pieces_is_the_direct_read(interval: str, shape: str) -> None:
    rows = candles(interval, 1500 if interval == "1h" else 600, seed=len(interval) + len(shape))
    pieces = as_pieces(interval, rows, shape)
    starts = pieces_covering(interval, rows[0]["t"], rows[-1]["t"] + timedelta(seconds=1))
    rng = random.Random(5)
    for _ in range(60):
        a, b = sorted(rng.sample(range(len(rows)), 2))
        start = rows[a]["t"] + rng.choice([timedelta(0), timedelta(minutes=1), -timedelta(1e-3)])
        end = rows[b]["t"] + rng.choice([timedelta(0), timedelta(seconds=1), timedelta(1e-3)])
        newest = rng.random() < 0.5
        limit = rng.choice([1, 7, 500, 10**6])
        first = starts.index(
            piece_of(interval, start if not newest or rng.random() < 0.5 else rows[0]["t"])
        )
        window_start = None if newest and first == 0 else start
        last = starts.index(piece_of(interval, end - timedelta(microseconds=1)))
        kept = cut_to_window(pieces[first : last + 1], shape, window_start, end, limit, newest)
        body = assemble_prices("BTCUSDT", interval, shape, kept)
        want = expected(rows, window_start, end, limit, newest)
        got, source = decoded(body, shape)
        assert got == [
            (r["t"].strftime("%Y-%m-%dT%H:%M:%SZ"), *(json.loads(r[k]) for k in "ohlcv"))
            for r in want
        ]
        names = sorted({r["source"] for r in want})
        assert source == ("+".join(names) if names else None)


@pytest.mark.parametrize("interval", ["1h", "1d"])
@pytest.mark.parametrize("shape", ["rows", "columns"])
def test_windows_on_piece_bounds_and_candle_times_keep_exactly_their_candles(
    interval: str, shape: str
) -> None:
    """Whole pieces are kept as they are (the edges are not split): at a piece's
    bounds, at its first and last candle, a second or a millisecond either side."""
    rows = candles(interval, 1500 if interval == "1h" else 600, seed=3)
    pieces = as_pieces(interval, rows, shape)
    starts = pieces_covering(interval, rows[0]["t"], rows[-1]["t"] + timedelta(seconds=1))
    nudges = [timedelta(0), timedelta(seconds=1), -timedelta(seconds=1), timedelta(1e-3)]
    for index in range(1, len(starts) - 1):
        members = [r["t"] for r in rows if piece_of(interval, r["t"]) == starts[index]]
        if not members:
            continue
        for start in (starts[index], members[0]):
            for end in (next_piece(interval, starts[index]), members[-1]):
                for nudge in nudges:
                    window = (start + nudge, end + nudge)
                    kept = cut_to_window([pieces[index]], shape, *window, 10**6, False)
                    got, _ = decoded(assemble_prices("BTCUSDT", interval, shape, kept), shape)
                    want = [
                        r
                        for r in expected(rows, *window, 10**6, False)
                        if piece_of(interval, r["t"]) == starts[index]
                    ]
                    assert [g[0] for g in got] == [
                        r["t"].strftime("%Y-%m-%dT%H:%M:%SZ") for r in want
                    ], window


@pytest.mark.parametrize("interval", ["1h", "1d"])
@pytest.mark.parametrize("shape", ["rows", "columns"])
def test_a_read_of_consecutive_candles_splits_into_their_pieces(interval: str, shape: str) -> None:
    rows = candles(interval, 2500, seed=4)
    pieces = as_pieces(interval, rows, shape)
    starts = pieces_covering(interval, rows[0]["t"], rows[-1]["t"] + timedelta(seconds=1))
    held = {start: piece for start, piece in zip(starts, pieces, strict=True) if piece.count}
    codes = b"".join(p.codes for p in held.values())
    segments = tuple(
        b",".join(p.segments[i] for p in held.values()) for i in range(len(pieces[0].segments))
    )
    assert split_into_pieces(interval, shape, codes, segments) == held
    assert split_into_pieces(interval, shape, b"", segments) == {}
    (alone,) = as_pieces(interval, rows[:1], shape)
    assert split_into_pieces(interval, shape, alone.codes, alone.segments) == {starts[0]: alone}


def test_the_two_shapes_hold_the_same_values() -> None:
    rows = candles("1h", 2000)
    by_shape = {
        shape: decoded(assemble_prices("X", "1h", shape, as_pieces("1h", rows, shape)), shape)
        for shape in ("rows", "columns")
    }
    assert by_shape["rows"] == by_shape["columns"]
    assert len(by_shape["rows"][0]) == 2000


def test_a_piece_survives_its_bytes_and_nothing_else_passes_for_one() -> None:
    piece = as_pieces("1h", candles("1h", 50), "columns")[0]
    assert Piece.from_bytes(piece.to_bytes()) == piece
    assert Piece.from_bytes(Piece.empty("rows").to_bytes()) == Piece.empty("rows")
    data = piece.to_bytes()
    for broken in (b"", b"TTP1", data[:-1], data + b"x", b"XXXX" + data[4:]):
        with pytest.raises(ValueError):
            Piece.from_bytes(broken)


def test_piece_bounds() -> None:
    t = datetime(2024, 12, 31, 23, tzinfo=UTC)
    assert piece_of("1h", t) == datetime(2024, 12, 1, tzinfo=UTC)
    assert next_piece("1h", piece_of("1h", t)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert piece_of("1d", t) == piece_of("4h", t) == datetime(2024, 1, 1, tzinfo=UTC)
    assert piece_label("1h", t.replace(day=1, hour=0)) == "2024-12"
    assert piece_label("1d", datetime(2024, 1, 1, tzinfo=UTC)) == "2024"
    year = pieces_covering("1h", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    assert len(year) == 12 and year[-1] == datetime(2023, 12, 1, tzinfo=UTC)
    assert pieces_covering("1h", t, t) == []
