"""read_archive on real zip files: ms and µs dates, checksum ok / mismatch."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticktide_ingest_crypto import ArchiveError, read_archive

HOUR_MS = 3_600_000


def _csv(first_open: int, count: int, step: int, header: bool) -> str:
    lines = (
        [
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore"
        ]
        if header
        else []
    )
    for index in range(count):
        t = first_open + index * step
        lines.append(
            f"{t},{100 + index}.10000000,{101 + index}.00000000,{99 + index}.5,"
            f"{100 + index}.20000000,7.00100000,{t + step - 1},700.1,3,1.5,150.2,0"
        )
    return "\n".join(lines) + "\n"


def _write_zip(directory: Path, name: str, csv_text: str) -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name.replace(".zip", ".csv"), csv_text)
    return path


def test_monthly_zip_in_milliseconds(tmp_path: Path) -> None:
    path = _write_zip(
        tmp_path, "BTCUSDT-1h-2024-03.zip", _csv(1709251200000, 3, HOUR_MS, header=True)
    )
    contents = read_archive(path)
    assert (contents.symbol, contents.interval, contents.source) == (
        "BTCUSDT",
        "1h",
        "binance-archive",
    )
    assert contents.candles[0].t == datetime(2024, 3, 1, tzinfo=UTC)
    assert contents.candles[2].t == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert contents.candles[1].o == "101.10000000"
    assert contents.checksum_verified is False


def test_monthly_zip_in_microseconds_from_2025(tmp_path: Path) -> None:
    path = _write_zip(
        tmp_path, "ETHUSDT-1d-2025-02.zip", _csv(1738368000000000, 28, 86_400_000_000, header=False)
    )
    contents = read_archive(path)
    assert contents.candles[0].t == datetime(2025, 2, 1, tzinfo=UTC)
    assert contents.candles[-1].t == datetime(2025, 2, 28, tzinfo=UTC)
    assert len(contents.candles) == 28


def test_checksum_verified(tmp_path: Path) -> None:
    path = _write_zip(
        tmp_path, "BTCUSDT-4h-2024-01-15.zip", _csv(1705276800000, 6, 4 * HOUR_MS, header=False)
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / f"{path.name}.CHECKSUM").write_text(f"{digest}  {path.name}\n")
    contents = read_archive(path)
    assert contents.checksum_verified is True
    assert len(contents.candles) == 6


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    path = _write_zip(
        tmp_path, "BTCUSDT-1h-2024-01.zip", _csv(1704067200000, 2, HOUR_MS, header=True)
    )
    (tmp_path / f"{path.name}.CHECKSUM").write_text(f"{'0' * 64}  {path.name}\n")
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        read_archive(path)


def test_not_a_zip_and_missing_file(tmp_path: Path) -> None:
    bogus = tmp_path / "BTCUSDT-1h-2024-01.zip"
    bogus.write_text("this is not a zip")
    with pytest.raises(ArchiveError, match="not a valid zip file"):
        read_archive(bogus)
    with pytest.raises(ArchiveError, match="no such file"):
        read_archive(tmp_path / "BTCUSDT-1h-2024-02.zip")
