"""Bundles of kline archives (archive_bundle): every member checked as a single
upload is, the bundle's own caps, and the series merged in time order."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from ticktide_ingest_crypto import archive_bundle
from ticktide_ingest_crypto.archive import ArchiveError, read_archive_bytes
from ticktide_ingest_crypto.archive_bundle import merge_series, read_bundle

HOUR_MS = 3_600_000
MARCH_MS = 1709251200000  # 2024-03-01
APRIL_MS = 1711929600000  # 2024-04-01


def kline_zip(stem: str, first_ms: int, rows: int, close: str = "1.5") -> bytes:
    csv = "".join(
        f"{first_ms + i * HOUR_MS},1.0,2.0,0.5,{close},10.0,{first_ms + (i + 1) * HOUR_MS - 1},"
        "15.0,3,5.0,7.5,0\n"
        for i in range(rows)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{stem}.csv", csv)
    return buffer.getvalue()


def bundle(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buffer.getvalue()


MARCH = kline_zip("BTCUSDT-1h-2024-03", MARCH_MS, 3)
APRIL = kline_zip("BTCUSDT-1h-2024-04", APRIL_MS, 2)
ETH_MARCH = kline_zip("ETHUSDT-1h-2024-03", MARCH_MS, 4)


def test_each_member_reads_as_the_single_upload_would() -> None:
    found = read_bundle(
        bundle(
            {
                "BTCUSDT-1h-2024-03.zip": MARCH,
                "BTCUSDT-1h-2024-03.zip.CHECKSUM": (
                    f"{hashlib.sha256(MARCH).hexdigest()}  BTCUSDT-1h-2024-03.zip\n".encode()
                ),
                "ETHUSDT-1h-2024-03.zip": ETH_MARCH,
            }
        )
    )
    assert [archive.name for archive in found] == [
        "BTCUSDT-1h-2024-03.zip",
        "ETHUSDT-1h-2024-03.zip",
    ]
    assert found[0].contents == read_archive_bytes(
        "BTCUSDT-1h-2024-03.zip", MARCH, hashlib.sha256(MARCH).hexdigest()
    )
    assert found[0].contents.checksum_verified and not found[1].contents.checksum_verified


def test_series_are_merged_in_time_order_whatever_the_member_order() -> None:
    found = read_bundle(
        bundle(
            {
                "BTCUSDT-1h-2024-04.zip": APRIL,
                "ETHUSDT-1h-2024-03.zip": ETH_MARCH,
                "BTCUSDT-1h-2024-03.zip": MARCH,
            }
        )
    )
    btc, eth = merge_series(found)
    assert (btc.symbol, btc.interval, len(btc.candles)) == ("BTCUSDT", "1h", 5)
    assert [c.t for c in btc.candles] == sorted(c.t for c in btc.candles)
    assert btc.period_start.month == 3 and btc.period_end.month == 5
    assert (eth.symbol, len(eth.candles)) == ("ETHUSDT", 4)


def test_a_twin_open_time_keeps_the_later_files_candle_last() -> None:
    daily = kline_zip("BTCUSDT-1h-2024-03-01", MARCH_MS, 1, close="9.9")
    (merged,) = merge_series(
        read_bundle(bundle({"BTCUSDT-1h-2024-03.zip": MARCH, "BTCUSDT-1h-2024-03-01.zip": daily}))
    )
    twins = [c for c in merged.candles if c.t == merged.candles[0].t]
    assert [c.c for c in twins] == ["1.5", "9.9"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({}, "holds no archive"),
        ({"notes.txt": b"hi"}, "only kline zips"),
        ({"dir/BTCUSDT-1h-2024-03.zip": MARCH}, "only archive files"),
        ({"BTCUSDT-1h-2024-03.zip.CHECKSUM": b"00" * 32}, "holds no archive"),
        (
            {"BTCUSDT-1h-2024-03.zip": MARCH, "ETHUSDT-1h-2024-03.zip.CHECKSUM": b"00" * 32},
            "no such archive",
        ),
        ({"BTCUSDT-1h-2024-03.zip": b"not a zip"}, "not a valid zip"),
        ({"BTCUSDT-1h-2024-13.zip": MARCH}, "invalid date"),
        (
            {
                "BTCUSDT-1h-2024-03.zip": MARCH,
                "BTCUSDT-1h-2024-03.zip.CHECKSUM": b"0" * 64,
            },
            "checksum mismatch",
        ),
    ],
)
def test_a_bad_bundle_names_its_problem(members: dict[str, bytes], message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_bundle(bundle(members))


def test_a_name_given_twice_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr("BTCUSDT-1h-2024-03.zip", MARCH)
        with pytest.warns(UserWarning, match="Duplicate name"):
            out.writestr("BTCUSDT-1h-2024-03.zip", APRIL)
    with pytest.raises(ArchiveError, match="twice"):
        read_bundle(buffer.getvalue())


def test_not_a_zip_and_too_many_archives_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ArchiveError, match="not a valid zip"):
        read_bundle(b"PK not really")
    monkeypatch.setattr(archive_bundle, "MAX_BUNDLE_ARCHIVES", 2)
    members = {f"BTCUSDT-1h-2024-03-0{day}.zip": MARCH for day in (1, 2, 3)}
    with pytest.raises(ArchiveError, match="at most 2"):
        read_bundle(bundle(members))


def test_a_member_bomb_stops_at_the_member_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_bundle, "MAX_ZIP_BYTES", 1024)
    big = bundle({"BTCUSDT-1h-2024-03.zip": MARCH + b"\0" * 4096})
    with pytest.raises(ArchiveError, match="too large"):
        read_bundle(big)
    monkeypatch.setattr(archive_bundle, "MAX_BUNDLE_BYTES", 100)
    with pytest.raises(ArchiveError, match="larger than"):
        read_bundle(big)


def test_archives_in_counts_the_listed_archives_and_exceeds_every_bound_for_junk() -> None:
    from ticktide_ingest_crypto.archive_bundle import MAX_BUNDLE_ARCHIVES, archives_in

    two = bundle({"BTCUSDT-1h-2024-03.zip": MARCH, "BTCUSDT-1h-2024-04.zip": APRIL})
    assert archives_in(two) == 2
    assert archives_in(b"not a zip") > MAX_BUNDLE_ARCHIVES
