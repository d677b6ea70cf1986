"""read_archive_bytes on hostile uploads: a zip bomb stops at the cap whatever
its header claims, not a zip, a wrong CSV, a name that is not a kline archive,
a checksum that does not match; a good upload parses."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from ticktide_ingest_crypto import archive
from ticktide_ingest_crypto.archive import ArchiveError, read_archive_bytes

NAME = "BTCUSDT-1h-2024-03"
FIRST_MS = 1709251200000


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buffer.getvalue()


def _csv(rows: int) -> bytes:
    return "".join(
        f"{FIRST_MS + i * 3_600_000},1.0,2.0,0.5,1.5,10.0,{FIRST_MS + (i + 1) * 3_600_000 - 1},"
        "15.0,3,5.0,7.5,0\n"
        for i in range(rows)
    ).encode()


def test_a_good_upload_parses_and_checks_its_digest() -> None:
    data = _zip({f"{NAME}.csv": _csv(3)})
    contents = read_archive_bytes(f"{NAME}.zip", data, hashlib.sha256(data).hexdigest())
    assert (contents.symbol, contents.interval, len(contents.candles)) == ("BTCUSDT", "1h", 3)
    assert contents.checksum_verified


def test_a_zip_bomb_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_CSV_BYTES", 1024 * 1024)
    bomb = _zip({f"{NAME}.csv": b"0" * (8 * 1024 * 1024)})  # 8 MiB of zeros: a few KiB zipped
    assert len(bomb) < 64 * 1024
    with pytest.raises(ArchiveError, match="too large"):
        read_archive_bytes(f"{NAME}.zip", bomb)


def test_a_header_that_lies_about_the_size_is_still_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = bytearray(_zip({f"{NAME}.csv": b"0" * (2 * 1024 * 1024)}))
    monkeypatch.setattr(archive, "MAX_CSV_BYTES", 1024 * 1024)
    # Claim a tiny uncompressed size in the central directory.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    with pytest.raises(ArchiveError):
        read_archive_bytes(f"{NAME}.zip", bytes(data))


def test_too_large_a_zip_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_ZIP_BYTES", 100)
    with pytest.raises(ArchiveError, match="larger than"):
        read_archive_bytes(f"{NAME}.zip", b"PK" + b"x" * 200)


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        (f"{NAME}.zip", b"not a zip", "not a valid zip file"),
        (f"{NAME}.zip", _zip({"a.csv": b"1", "b.csv": b"2"}), "expected one CSV"),
        (f"{NAME}.zip", _zip({f"{NAME}.csv": b"open_time,open\nnope,1\n"}), "row"),
        ("btc.zip", _zip({"btc.csv": _csv(1)}), "not a Binance kline archive name"),
        ("BTCUSDT-1m-2024-03.zip", _zip({"x.csv": _csv(1)}), "is not supported"),
    ],
)
def test_hostile_uploads_are_refused(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_archive_bytes(filename, data)


def test_a_wrong_digest_is_refused() -> None:
    data = _zip({f"{NAME}.csv": _csv(1)})
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        read_archive_bytes(f"{NAME}.zip", data, "0" * 64)


def test_more_lines_than_the_period_holds_are_refused_before_parsing() -> None:
    """A day of 1h candles is 24 rows: repeated rows cannot make a small zip
    into millions of candles."""
    day = "BTCUSDT-1h-2024-03-01"
    row = _csv(1)
    assert read_archive_bytes(f"{day}.zip", _zip({f"{day}.csv": _csv(24)})).candles
    with pytest.raises(ArchiveError, match="more than the 24 candles"):
        read_archive_bytes(f"{day}.zip", _zip({f"{day}.csv": row * 100_000}))
