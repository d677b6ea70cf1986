"""A crypto series in fixed pieces, and a prices answer assembled from them.

A piece is every stored candle of one calendar month (1h) or one calendar year
(4h, 1d) of one series, already rendered as JSON text the way an answer carries
it: for the default shape the candle objects joined by commas, for
`format=columns` one comma-joined list per column (`t` as epoch seconds, then
`o h l c v` as the stored digits). A piece never changes unless a stored event
touches it, so the cache keeps it until then; five years are 60 pieces joined
without PostgreSQL, and a new candle makes only the newest piece stale.

Each piece also carries one source code per candle (`b` binance, `a`
binance-archive, `s` simulated), so that an answer cut out of a piece names
exactly the sources of the candles it holds.

Pure: no I/O.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from ticktide_gateway.serialization import json_bytes, source_label

__all__ = [
    "COLUMNS",
    "Piece",
    "PriceShape",
    "assemble_prices",
    "cut_to_window",
    "piece_label",
    "piece_of",
    "piece_count",
    "pieces_covering",
    "sources_of_codes",
    "split_into_pieces",
]

PriceShape = Literal["rows", "columns"]
COLUMNS = ("t", "o", "h", "l", "c", "v")
SOURCE_OF_CODE = {ord("b"): "binance", ord("a"): "binance-archive", ord("s"): "simulated"}
_HEADER = struct.Struct("<4sIB")  # magic, candles, segments
_MAGIC = b"TTP1"


def _by_month(interval: str) -> bool:
    return interval == "1h"


def piece_of(interval: str, moment: datetime) -> datetime:
    """The start of the piece that holds `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    if _by_month(interval):
        return datetime(moment.year, moment.month, 1, tzinfo=UTC)
    return datetime(moment.year, 1, 1, tzinfo=UTC)


_LAST_MOMENT = datetime.max.replace(tzinfo=UTC)


def next_piece(interval: str, start: datetime) -> datetime:
    """The start of the piece after the one at `start` (the last representable
    moment after the last piece of year 9999)."""
    if start.year == 9999 and (start.month == 12 or not _by_month(interval)):
        return _LAST_MOMENT
    if _by_month(interval):
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return datetime(start.year + 1, 1, 1, tzinfo=UTC)


def piece_count(interval: str, start: datetime, end: datetime) -> int:
    """How many pieces meet [start, end), without listing them."""
    if start >= end:
        return 0
    first, last = piece_of(interval, start), piece_of(interval, end - timedelta(microseconds=1))
    if _by_month(interval):
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return last.year - first.year + 1


def pieces_covering(interval: str, start: datetime, end: datetime) -> list[datetime]:
    """The starts of the pieces that meet [start, end), oldest first."""
    starts: list[datetime] = []
    if start >= end:
        return starts
    current = piece_of(interval, start)
    while current < end:
        starts.append(current)
        current = next_piece(interval, current)
    return starts


def piece_label(interval: str, start: datetime) -> str:
    """ "2024-03" for a month piece, "2024" for a year piece."""
    return f"{start.year:04d}-{start.month:02d}" if _by_month(interval) else f"{start.year:04d}"


def sources_of_codes(codes: bytes) -> list[str]:
    return [SOURCE_OF_CODE[code] for code in set(codes)]


@dataclass(frozen=True)
class Piece:
    """The candles of one piece in one shape: `codes` one source code per candle,
    `segments` the comma-joined JSON text (one for "rows", one per column for
    "columns"); no candles: empty codes and empty segments."""

    codes: bytes
    segments: tuple[bytes, ...]

    @property
    def count(self) -> int:
        return len(self.codes)

    def to_bytes(self) -> bytes:
        lengths = struct.pack(f"<{len(self.segments)}I", *(len(s) for s in self.segments))
        return b"".join(
            (_HEADER.pack(_MAGIC, self.count, len(self.segments)), lengths, self.codes)
            + self.segments
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Piece:
        """Raises ValueError on anything `to_bytes` did not write."""
        if len(data) < _HEADER.size:
            raise ValueError("piece too short")
        magic, count, segments = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a piece")
        offset = _HEADER.size
        lengths = struct.unpack_from(f"<{segments}I", data, offset)
        offset += 4 * segments
        codes = data[offset : offset + count]
        offset += count
        parts = []
        for length in lengths:
            parts.append(data[offset : offset + length])
            offset += length
        if offset != len(data) or len(codes) != count:
            raise ValueError("piece length mismatch")
        return cls(codes, tuple(parts))

    @classmethod
    def empty(cls, shape: PriceShape) -> Piece:
        return cls(b"", (b"",) * (len(COLUMNS) if shape == "columns" else 1))


_OBJECT_START = b'{"t":"'


def _label_prefix(interval: str, start: datetime) -> bytes:
    """How the open time of every candle of the piece at `start` begins."""
    return (piece_label(interval, start) + ("-" if not _by_month(interval) else "")).encode()


def _iso_time(text: bytes) -> datetime:
    return datetime.strptime(text.decode(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def split_into_pieces(
    interval: str, shape: PriceShape, codes: bytes, segments: Sequence[bytes]
) -> dict[datetime, Piece]:
    """Consecutive candles, oldest first (one source code each, and their JSON
    text comma-joined: one segment for "rows", one per column for "columns"),
    split into the pieces they fall in, by piece start."""
    if not codes:
        return {}
    if shape == "rows":
        return _split_rows_into_pieces(interval, codes, segments[0])
    columns = [segment.split(b",") for segment in segments]
    times = [int(value) for value in columns[0]]
    pieces: dict[datetime, Piece] = {}
    lo = 0
    while lo < len(times):
        start = piece_of(interval, datetime.fromtimestamp(times[lo], UTC))
        hi = bisect_left(times, int(next_piece(interval, start).timestamp()), lo)
        pieces[start] = Piece(codes[lo:hi], tuple(b",".join(c[lo:hi]) for c in columns))
        lo = hi
    return pieces


def _split_rows_into_pieces(interval: str, codes: bytes, objects: bytes) -> dict[datetime, Piece]:
    # Each piece's first candle is found by the text its open time starts with
    # (`{"t":"` begins every candle object and nothing else); pieces are taken
    # in order, so each search starts where the previous piece began.
    pieces: dict[datetime, Piece] = {}
    last = objects.rfind(_OBJECT_START)
    last_start = piece_of(interval, _iso_time(objects[last + 6 : last + 26]))
    position, taken = 0, 0
    while position < len(objects):
        start = piece_of(interval, _iso_time(objects[position + 6 : position + 26]))
        following = next_piece(interval, start)
        end = len(objects) + 1
        while following <= last_start:
            found = objects.find(_OBJECT_START + _label_prefix(interval, following), position)
            if found != -1:
                end = found
                break
            following = next_piece(interval, following)
        segment = objects[position : end - 1]
        count = segment.count(_OBJECT_START)
        pieces[start] = Piece(codes[taken : taken + count], (segment,))
        position, taken = end, taken + count
    return pieces


def _split_rows(objects: bytes) -> list[bytes]:
    """The candle objects of a "rows" segment, each without its braces (a candle
    object holds no braces inside)."""
    return objects[1:-1].split(b"},{") if objects else []


def _row_times(items: Sequence[bytes]) -> list[bytes]:
    # Each item starts with `"t":"YYYY-MM-DDTHH:MM:SSZ"`: ISO times compare as text.
    return [item[5:25] for item in items]


def _cut(piece: Piece, shape: PriceShape, lo: int, hi: int) -> Piece:
    if lo <= 0 and hi >= piece.count:
        return piece
    if lo >= hi:
        return Piece.empty(shape)
    if shape == "rows":
        items = _split_rows(piece.segments[0])
        return Piece(piece.codes[lo:hi], (b"{" + b"},{".join(items[lo:hi]) + b"}",))
    columns = [segment.split(b",") for segment in piece.segments]
    return Piece(piece.codes[lo:hi], tuple(b",".join(values[lo:hi]) for values in columns))


def _times(piece: Piece, shape: PriceShape) -> list[bytes] | list[int]:
    if shape == "rows":
        return _row_times(_split_rows(piece.segments[0]))
    return [int(value) for value in piece.segments[0].split(b",")] if piece.count else []


def _first_and_last_times(piece: Piece, shape: PriceShape) -> tuple[datetime, datetime]:
    """The open times of a piece's first and last candles (it holds at least one)."""
    segment = piece.segments[0]
    if shape == "rows":
        last = segment.rfind(_OBJECT_START)
        return _iso_time(segment[6:26]), _iso_time(segment[last + 6 : last + 26])
    first_end, last_start = segment.find(b","), segment.rfind(b",")
    first_value = segment if first_end == -1 else segment[:first_end]
    return (
        datetime.fromtimestamp(int(first_value), UTC),
        datetime.fromtimestamp(int(segment[last_start + 1 :]), UTC),
    )


def _cut_by_time(
    piece: Piece, shape: PriceShape, start: datetime | None, end: datetime | None
) -> Piece:
    """The candles of `piece` with open times in [start, end) (None: unbounded)."""
    if piece.count == 0 or (start is None and end is None):
        return piece
    first, last = _first_and_last_times(piece, shape)
    if (start is None or start <= first) and (end is None or last < end):
        return piece  # the whole piece: nothing to split
    times = _times(piece, shape)

    def position(moment: datetime) -> int:
        # Open times are whole seconds: a bound inside a second falls after it.
        moment = moment.astimezone(UTC)
        whole = moment.replace(microsecond=0)
        key: bytes | int = (
            whole.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            if shape == "rows"
            else int(whole.timestamp())
        )
        find = bisect_right if moment.microsecond else bisect_left
        return find(times, key)  # type: ignore[arg-type]

    lo = position(start) if start is not None else 0
    hi = position(end) if end is not None else piece.count
    return _cut(piece, shape, lo, hi)


def cut_to_window(
    pieces: Sequence[Piece],
    shape: PriceShape,
    start: datetime | None,
    end: datetime,
    limit: int,
    newest: bool,
) -> list[Piece]:
    """The candles of consecutive `pieces` (oldest first) whose open times lie in
    [start, end), at most `limit` of them: the oldest `limit`, or with `newest`
    the newest. Only the first and last pieces are ever cut; a time of the
    first piece's start or later counts as inside (pieces hold only their own
    months)."""
    kept = [
        _cut_by_time(piece, shape, start if i == 0 else None, end if i == len(pieces) - 1 else None)
        if i in (0, len(pieces) - 1)
        else piece
        for i, piece in enumerate(pieces)
    ]
    total = sum(piece.count for piece in kept)
    if total <= limit:
        return kept
    excess = total - limit
    if newest:
        ordered = kept
    else:
        ordered = list(reversed(kept))
    result: list[Piece] = []
    for piece in ordered:
        if excess <= 0:
            result.append(piece)
        elif excess >= piece.count:
            excess -= piece.count
        else:
            cut = (
                _cut(piece, shape, excess, piece.count)
                if newest
                else _cut(piece, shape, 0, piece.count - excess)
            )
            excess = 0
            result.append(cut)
    return result if newest else list(reversed(result))


def assemble_prices(
    symbol: str, interval: str, shape: PriceShape, pieces: Iterable[Piece]
) -> bytes:
    """The prices answer of `pieces` (oldest first): CONTRACT §2's shape, or the
    column shape `{"symbol","interval","source","t":[…],"o":[…],…}`."""
    held = [piece for piece in pieces if piece.count]
    head = json_bytes(
        {
            "symbol": symbol,
            "interval": interval,
            "source": source_label(sources_of_codes(b"".join(p.codes for p in held))),
        }
    )[:-1]
    if shape == "rows":  # one join: a year is a megabyte, copied once
        parts = [head, b',"candles":[']
        for index, piece in enumerate(held):
            if index:
                parts.append(b",")
            parts.append(piece.segments[0])
        parts.append(b"]}")
        return b"".join(parts)
    parts = [head]
    for index, name in enumerate(COLUMNS):
        parts.append(b',"%s":[' % name.encode())
        parts.append(b",".join(p.segments[index] for p in held))
        parts.append(b"]")
    parts.append(b"}")
    return b"".join(parts)
