"""Reading one Binance public-archive kline zip from disk (the importer's I/O).

`read_archive("BTCUSDT-1h-2024-01.zip")` opens the zip, verifies the checksum
file `BTCUSDT-1h-2024-01.zip.CHECKSUM` beside it when there is one, and parses
the CSV inside with `binance.parse_archive_csv`; `read_archive_bytes` does the
same for an uploaded zip (`POST /api/admin/ingest/crypto/archive`), with caps on
the compressed and the uncompressed size (a zip bomb stops at the cap, whatever
its header claims). Every problem is an `ArchiveError` with a message fit for
the CLI.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from ticktide_common.messages import CandleSource, CandleV1
from ticktide_ingest_crypto.binance import (
    ArchiveError,
    ArchiveName,
    parse_archive_csv,
    parse_archive_name,
    parse_checksum_file,
    sha256_hex,
)
from ticktide_ingest_crypto.gaps import INTERVAL_MS

__all__ = [
    "ArchiveContents",
    "ArchiveError",
    "read_archive",
    "read_archive_bytes",
    "verify_checksum",
    "bounded_member_bytes",
    "MAX_ZIP_BYTES",
    "MAX_CSV_BYTES",
]

ARCHIVE_SOURCE: Final[CandleSource] = "binance-archive"
# A monthly 1h archive is about 30 KiB zipped and 100 KiB of CSV; a daily 1h one
# far less. These caps leave room for years of 1h rows and stop hostile uploads.
MAX_ZIP_BYTES = 8 * 1024 * 1024
MAX_CSV_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
# Lines besides the candles that a CSV may hold: a header, blank lines.
_SPARE_LINES = 16


@dataclass(frozen=True)
class ArchiveContents:
    """The candles of one archive file and what its name says about them."""

    symbol: str
    interval: str
    candles: list[CandleV1]
    period_start: datetime
    period_end: datetime
    checksum_verified: bool
    source: CandleSource = ARCHIVE_SOURCE


def verify_checksum(zip_bytes: bytes, checksum_text: str, zip_name: str) -> None:
    """Raise `ArchiveError` unless `checksum_text` names this zip's SHA-256."""
    expected, named = parse_checksum_file(checksum_text)
    if named is not None and named != zip_name:
        raise ArchiveError(f"{zip_name}: checksum file is for {named!r}, not this archive")
    actual = sha256_hex(zip_bytes)
    if actual != expected:
        raise ArchiveError(
            f"{zip_name}: checksum mismatch: file has SHA-256 {actual}, "
            f"the .CHECKSUM file says {expected}"
        )


def read_archive(path: str | Path) -> ArchiveContents:
    """Candles of one monthly or daily kline zip (1h, 4h or 1d)."""
    path = Path(path)
    parse_archive_name(path.name)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    zip_bytes = path.read_bytes()
    checksum_path = path.with_name(path.name + ".CHECKSUM")
    checksum = checksum_path.read_text(errors="replace") if checksum_path.is_file() else None
    return read_archive_bytes(path.name, zip_bytes, checksum)


def read_archive_bytes(
    filename: str, zip_bytes: bytes, checksum_text: str | None = None
) -> ArchiveContents:
    """Candles of the zip `zip_bytes` named `filename` (the name gives symbol,
    interval and period); `checksum_text` is its `.CHECKSUM` file, or just the
    hex digest, when known."""
    name = parse_archive_name(filename)
    if len(zip_bytes) > MAX_ZIP_BYTES:
        raise ArchiveError(f"{filename}: larger than {MAX_ZIP_BYTES // (1024 * 1024)} MiB")
    verified = False
    if checksum_text is not None:
        verify_checksum(zip_bytes, checksum_text, filename)
        verified = True
    csv_bytes = _csv_member(filename, zip_bytes, f"{name.stem}.csv")
    _check_line_count(filename, csv_bytes, name)
    candles = parse_archive_csv(csv_bytes, name)
    return ArchiveContents(
        symbol=name.symbol,
        interval=name.interval,
        candles=candles,
        period_start=name.period_start,
        period_end=name.period_end,
        checksum_verified=verified,
    )


def _check_line_count(filename: str, csv_bytes: bytes, name: ArchiveName) -> None:
    """A file holds at most one row per open time of its period (and a header
    and blank lines around): more lines are refused before any is parsed, so
    that repeated rows cannot turn a small zip into millions of candles."""
    slots = (
        int((name.period_end - name.period_start).total_seconds() * 1000)
        // INTERVAL_MS[name.interval]
    )
    lines = csv_bytes.count(b"\n") + (0 if csv_bytes.endswith(b"\n") else 1)
    if lines > slots + _SPARE_LINES:
        raise ArchiveError(
            f"{filename}: {lines} lines, more than the {slots} candles of one "
            f"{name.interval} file of its period (repeated rows?)"
        )


def _csv_member(filename: str, zip_bytes: bytes, expected: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            chosen = next((info for info in members if info.filename == expected), None)
            if chosen is None:
                csvs = [info for info in members if info.filename.lower().endswith(".csv")]
                if len(csvs) != 1:
                    raise ArchiveError(
                        f"{filename}: expected one CSV named {expected}, found "
                        f"{[info.filename for info in members][:10]}"
                    )
                chosen = csvs[0]
            return bounded_member_bytes(archive, chosen, filename, MAX_CSV_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ArchiveError(f"{filename}: not a valid zip file ({exc})") from None
    except (OSError, ValueError, RuntimeError) as exc:  # zlib errors, encrypted members
        raise ArchiveError(f"{filename}: unreadable zip member ({exc})") from None


def bounded_member_bytes(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, filename: str, cap: int
) -> bytes:
    """The member's bytes, refusing past `cap` whatever its header says."""
    if member.file_size > cap:
        raise ArchiveError(f"{filename}: {member.filename} is too large to import")
    chunks: list[bytes] = []
    size = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_READ_CHUNK):
            size += len(chunk)
            if size > cap:
                raise ArchiveError(f"{filename}: {member.filename} is too large to import")
            chunks.append(chunk)
    return b"".join(chunks)
