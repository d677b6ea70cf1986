"""The CLI's packing of archive files into bundles (archive_bundles)."""

from __future__ import annotations

import io
import zipfile

from ticktide_cli.archive_bundles import BundleFile, build_bundle, plan_bundles, series_of


def test_series_is_the_name_before_the_date() -> None:
    assert series_of("BTCUSDT-1h-2024-01.zip") == "BTCUSDT-1h"
    assert series_of("ETHUSDT-4h-2024-01-15.zip") == "ETHUSDT-4h"
    assert series_of("odd.zip") == "odd.zip"


def test_bundles_hold_one_series_in_name_order_within_the_caps() -> None:
    sizes = [
        ("BTCUSDT-1h-2024-03.zip", 10),
        ("ETHUSDT-1h-2024-01.zip", 10),
        ("BTCUSDT-1h-2024-01.zip", 10),
        ("BTCUSDT-1h-2024-02.zip", 10),
        ("BTCUSDT-1h-2024-04.zip", 10),
    ]
    assert plan_bundles(sizes, max_files=3) == [[2, 3, 0], [4], [1]]
    assert plan_bundles(sizes, max_bytes=25) == [[2, 3], [0, 4], [1]]


def test_a_file_larger_than_the_byte_cap_goes_alone() -> None:
    sizes = [("A-1h-1.zip", 5), ("A-1h-2.zip", 100), ("A-1h-3.zip", 5)]
    assert plan_bundles(sizes, max_bytes=50) == [[0], [1], [2]]


def test_every_file_is_planned_exactly_once() -> None:
    sizes = [(f"S{i % 3}-1h-2024-{i:02d}.zip", 1000 + i) for i in range(50)]
    planned = [p for bundle in plan_bundles(sizes, max_files=4, max_bytes=3500) for p in bundle]
    assert sorted(planned) == list(range(50))


def test_the_bundle_stores_each_archive_unchanged_with_its_checksum() -> None:
    data = b"PK\x03\x04 some archive bytes"
    bundle = build_bundle(
        [BundleFile("A-1h-2024-01.zip", data, "ab" * 32), BundleFile("A-1h-2024-02.zip", b"x")]
    )
    with zipfile.ZipFile(io.BytesIO(bundle)) as opened:
        assert opened.namelist() == [
            "A-1h-2024-01.zip",
            "A-1h-2024-01.zip.CHECKSUM",
            "A-1h-2024-02.zip",
        ]
        assert opened.read("A-1h-2024-01.zip") == data
        assert (
            opened.read("A-1h-2024-01.zip.CHECKSUM") == f"{'ab' * 32}  A-1h-2024-01.zip\n".encode()
        )
        assert all(info.compress_type == zipfile.ZIP_STORED for info in opened.infolist())
