"""Binance kline formats → `CandleV1` (pure: bytes and lists in, candles out).

Two shapes carry the same twelve fields: the REST answer of `GET /api/v3/klines`
(JSON arrays `[openTime ms, "open", "high", "low", "close", "volume", closeTime,
"quoteAssetVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]`) and the CSV
inside Binance's public archive zips (with or without a header row; open times
in milliseconds, or in microseconds for spot files from 2025 on). Prices and
volumes are kept as the exact decimal strings the provider sent.

An archive as Binance writes it (unquoted cells, plain decimals, times on the
grid) is checked a column at a time with string scans and its candles built
without a second validation; anything else goes through the csv module and
`CandleV1` row by row, which names the row of the first problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from ticktide_common.errors import PermanentError
from ticktide_common.messages import CandleV1
from ticktide_ingest_crypto.gaps import INTERVAL_MS, ms_to_datetime

__all__ = [
    "ARCHIVE_HEADER",
    "ArchiveError",
    "ArchiveName",
    "KlineFormatError",
    "open_time_to_ms",
    "parse_archive_csv",
    "parse_archive_name",
    "parse_checksum_file",
    "parse_kline",
    "parse_klines",
    "sha256_hex",
]

ARCHIVE_HEADER = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
# Milliseconds stay below 10**14 until the year 5138; microseconds of any date
# after 1973 are above it. Binance switched spot archives to µs in 2025.
_MICROSECONDS_ABOVE = 10**14

_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]{2,20})-(?P<interval>[0-9]+[a-zA-Z])-(?P<year>\d{4})-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2}))?\.(?P<ext>zip|csv)$"
)


class KlineFormatError(PermanentError):
    """An upstream kline is not in Binance's format; retrying will not fix it."""


class ArchiveError(PermanentError):
    """An archive file is unusable: bad name, checksum mismatch, malformed row."""


def parse_kline(row: object) -> CandleV1:
    """One REST kline array → a candle (the open time is milliseconds)."""
    if not isinstance(row, list) or len(row) < 6:
        raise KlineFormatError(f"kline is not an array of 12 fields: {row!r:.200}")
    open_time = row[0]
    if isinstance(open_time, bool) or not isinstance(open_time, int):
        raise KlineFormatError(f"kline open time is not an integer: {open_time!r:.50}")
    fields = row[1:6]
    if not all(isinstance(value, str) for value in fields):
        raise KlineFormatError(f"kline prices are not decimal strings: {fields!r:.200}")
    try:
        return _candle(open_time, fields)
    except ValueError as exc:
        raise KlineFormatError(f"invalid kline {row!r:.200}: {exc}") from exc


def parse_klines(payload: object) -> list[CandleV1]:
    """A whole `GET /api/v3/klines` answer → candles in the order received."""
    if not isinstance(payload, list):
        raise KlineFormatError(f"klines answer is not a JSON array: {payload!r:.200}")
    return [parse_kline(row) for row in payload]


def open_time_to_ms(value: int) -> int:
    """Milliseconds from an archive open time in ms or µs (decided by magnitude)."""
    if value < 0:
        raise ValueError(f"negative open time {value}")
    return value // 1000 if value > _MICROSECONDS_ABOVE else value


@dataclass(frozen=True)
class ArchiveName:
    """What a Binance archive file name says: `BTCUSDT-1h-2024-01[-15].zip`."""

    symbol: str
    interval: str
    period_start: datetime
    period_end: datetime  # exclusive
    stem: str

    @property
    def daily(self) -> bool:
        return (self.period_end - self.period_start).days == 1


def parse_archive_name(name: str) -> ArchiveName:
    match = _NAME.match(name)
    if match is None:
        raise ArchiveError(
            f"{name}: not a Binance kline archive name (expected e.g. BTCUSDT-1h-2024-01.zip "
            "or BTCUSDT-1h-2024-01-15.zip)"
        )
    interval = match["interval"]
    if interval not in INTERVAL_MS:
        raise ArchiveError(f"{name}: interval {interval!r} is not supported; use 1h, 4h or 1d")
    year, month = int(match["year"]), int(match["month"])
    try:
        if match["day"] is None:
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        else:
            start = datetime(year, month, int(match["day"]), tzinfo=UTC)
            end = ms_to_datetime(int(start.timestamp()) * 1000 + 86_400_000)
    except ValueError as exc:
        raise ArchiveError(f"{name}: invalid date in file name ({exc})") from None
    return ArchiveName(
        symbol=match["symbol"],
        interval=interval,
        period_start=start,
        period_end=end,
        stem=name.rsplit(".", 1)[0],
    )


def parse_archive_csv(data: bytes, archive: ArchiveName) -> list[CandleV1]:
    """The CSV of one archive → candles; every open time must lie in the file's
    period and on the interval's grid, else the row number is reported."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{archive.stem}.csv: not UTF-8 text ({exc})") from None
    candles = _plain_archive_candles(text, archive)
    if candles is None:
        candles = _exact_archive_candles(text, archive)
    return candles


_DECIMAL_MAX_LENGTH = 64  # messages.DecimalString
_OPEN_TIME_MAX_LENGTH = 20  # far past any date; int() of 4301 digits raises
_FIELD_NAMES = frozenset(CandleV1.model_fields)
# What model_construct does for CandleV1 reduces to four attributes; checked
# here so that a model given defaults, aliases or private state falls back.
_BARE_CONSTRUCTION = _FIELD_NAMES == {"t", "o", "h", "l", "c", "v"} and not (
    CandleV1.model_config.get("extra") == "allow"
    or CandleV1.__pydantic_post_init__
    or CandleV1.__private_attributes__
    or CandleV1.__pydantic_root_model__
    or any(field.alias or field.validation_alias for field in CandleV1.model_fields.values())
)
_new_candle = CandleV1.__new__
_set_attribute = object.__setattr__  # as model_construct sets them


def _plain_archive_candles(text: str, archive: ArchiveName) -> list[CandleV1] | None:
    """The candles of an archive as Binance writes them (unquoted cells, plain
    decimals, times on the grid), checked column by column with string scans;
    None at the first doubt, for `_exact_archive_candles` to decide and to name
    the row. Same results: the tests compare both on every kind of input."""
    step = INTERVAL_MS[archive.interval]
    if '"' in text:
        return None
    if "\r" not in text:
        lines = text.split("\n")
    else:
        lines = text.split("\r\n")
        ends = len(lines) - 1
        if text.count("\r") != ends or text.count("\n") != ends:
            return None  # a lone CR or LF: mixed line ends, or csv's error
    if lines[-1] == "":
        lines.pop()
    if not lines:
        return []
    if max(map(len, lines)) > csv.field_size_limit():
        return None  # the csv module refuses such a cell
    if lines[0] and not lines[0][:1].isdigit():  # a header is row 1 or none
        if lines[0].split(",")[:6] != list(ARCHIVE_HEADER[:6]):
            return None
        del lines[0]
    rows = [line.split(",", 6) for line in lines if line]
    if not rows:
        return []
    if min(map(len, rows)) < 6:
        return None
    opens, *columns = itertools.islice(zip(*rows, strict=False), 6)
    prices = list(itertools.chain.from_iterable(columns))
    if not _plain_integers(opens) or not _plain_decimals(prices):
        return None
    times = _grid_times(list(map(int, opens)), step, archive)
    if times is None:
        return None
    return list(map(_trusted_candle, times, *columns))


def _plain_integers(cells: Sequence[str]) -> bool:
    """Whether every cell is 1 to 20 ASCII digits (what int() reads exactly)."""
    lengths = set(map(len, cells))
    joined = ",".join(cells)
    return (
        min(lengths) > 0
        and max(lengths) <= _OPEN_TIME_MAX_LENGTH
        and joined.isascii()
        and not joined.encode().translate(None, b"0123456789,")
    )


def _plain_decimals(cells: Sequence[str]) -> bool:
    """Whether every cell is digits with at most one point, not the point alone,
    and fits DecimalString: such a string matches PLAIN_DECIMAL and is a finite,
    non-negative Decimal. Scans of the joined cells, no per-cell regex."""
    lengths = set(map(len, cells))
    shortest = min(lengths)
    if shortest == 0 or max(lengths) > _DECIMAL_MAX_LENGTH:
        return False
    joined = ",".join(cells)
    if not joined.isascii():
        return False
    points = joined.encode().translate(None, b"0123456789")  # the points and commas
    if points.translate(None, b".,") or b".." in points:
        return False
    return shortest > 1 or ",.," not in f",{joined},"


def _grid_times(open_times: list[int], step: int, archive: ArchiveName) -> list[datetime] | None:
    """The open times (ms or µs, not negative) as datetimes in UTC, or None
    unless every one is in the file's period and on the grid of `step` ms."""
    if max(open_times) > _MICROSECONDS_ABOVE:  # open_time_to_ms, inline
        open_times = [t // 1000 if t > _MICROSECONDS_ABOVE else t for t in open_times]
    first_ms = int(archive.period_start.timestamp()) * 1000
    end_ms = int(archive.period_end.timestamp()) * 1000
    if min(open_times) < first_ms or max(open_times) >= end_ms:
        return None
    first, count = open_times[0], len(open_times)
    if open_times == list(range(first, first + count * step, step)):  # no gap: the usual
        if first % step:
            return None
        steps = itertools.repeat(timedelta(milliseconds=step), count - 1)
        return list(itertools.accumulate(steps, operator.add, initial=ms_to_datetime(first)))
    if any(value % step for value in open_times):
        return None
    # Whole seconds on any grid, so the same datetime as ms_to_datetime gives.
    return [datetime.fromtimestamp(value // 1000, UTC) for value in open_times]


def _trusted_candle(t: datetime, o: str, h: str, l: str, c: str, v: str) -> CandleV1:  # noqa: E741
    """`CandleV1.model_construct(t=t, o=o, …)` at a third of its cost: what it
    sets for a model without aliases, defaults, extras or private attributes."""
    if not _BARE_CONSTRUCTION:
        return CandleV1.model_construct(t=t, o=o, h=h, l=l, c=c, v=v)
    candle = _new_candle(CandleV1)
    _set_attribute(candle, "__dict__", {"t": t, "o": o, "h": h, "l": l, "c": c, "v": v})
    _set_attribute(candle, "__pydantic_fields_set__", set(_FIELD_NAMES))
    _set_attribute(candle, "__pydantic_extra__", None)
    _set_attribute(candle, "__pydantic_private__", None)
    return candle


def _exact_archive_candles(text: str, archive: ArchiveName) -> list[CandleV1]:
    """Any archive CSV through the csv module and full validation, row by row:
    the path that names the row of every problem."""
    step = INTERVAL_MS[archive.interval]
    first_ms = int(archive.period_start.timestamp()) * 1000
    end_ms = int(archive.period_end.timestamp()) * 1000
    candles: list[CandleV1] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and not row[0].strip().lstrip("-").isdigit():
            if tuple(cell.strip().lower() for cell in row[:6]) != ARCHIVE_HEADER[:6]:
                raise ArchiveError(f"{archive.stem}.csv: row 1: unknown header {row!r:.200}")
            continue
        where = f"{archive.stem}.csv: row {number}"
        if len(row) < 6:
            raise ArchiveError(f"{where}: expected 12 columns, found {len(row)}")
        try:
            open_ms = open_time_to_ms(int(row[0].strip()))
        except ValueError:
            raise ArchiveError(f"{where}: open time {row[0]!r:.40} is not an integer") from None
        if not first_ms <= open_ms < end_ms:
            raise ArchiveError(
                f"{where}: open time {ms_to_datetime(open_ms).isoformat()} lies "
                f"outside the file's period {archive.period_start.date()}"
            )
        if open_ms % step:
            raise ArchiveError(
                f"{where}: open time {ms_to_datetime(open_ms).isoformat()} is "
                f"not on the {archive.interval} grid"
            )
        try:
            candles.append(_candle(open_ms, [cell.strip() for cell in row[1:6]]))
        except ValueError as exc:
            raise ArchiveError(f"{where}: {exc}") from None
    return candles


def parse_checksum_file(text: str) -> tuple[str, str | None]:
    """`<sha256hex>  NAME.zip` → (hex digest, name or None)."""
    parts = text.strip().split()
    if not parts or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
        raise ArchiveError(f"checksum file does not start with a SHA-256 digest: {text!r:.100}")
    name = parts[1].lstrip("*") if len(parts) > 1 else None
    return parts[0].lower(), name


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _candle(open_ms: int, fields: list[str]) -> CandleV1:
    open_, high, low, close, volume = fields[:5]
    for label, value in zip(("open", "high", "low", "close", "volume"), fields, strict=False):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{label} {value!r:.40} is not a decimal number") from None
        if not number.is_finite() or number < 0:
            raise ValueError(f"{label} {value!r:.40} is not a non-negative number")
    try:
        return CandleV1(t=ms_to_datetime(open_ms), o=open_, h=high, l=low, c=close, v=volume)
    except (ValidationError, OverflowError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
