"""Unit tests of the quality report arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticktide_gateway.crypto.quality import SeriesFacts, quality_report


def test_counts_and_holes() -> None:
    first = datetime(2024, 1, 1, tzinfo=UTC)
    last = first + timedelta(hours=99)
    holes = [
        (first + timedelta(hours=10), first + timedelta(hours=13)),
        (first + timedelta(hours=50), first + timedelta(hours=51)),
    ]
    report = quality_report("BTCUSDT", "1h", SeriesFacts(first, last, 96, 2, holes))
    assert report["expected"] == 100
    assert report["present"] == 96
    assert report["missing"] == 4
    assert report["refilled"] == 2
    assert report["gaps"] == [
        {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T13:00:00Z", "candles": 3},
        {"start": "2024-01-03T02:00:00Z", "end": "2024-01-03T03:00:00Z", "candles": 1},
    ]


def test_empty_series() -> None:
    report = quality_report("BTCUSDT", "4h", SeriesFacts(None, None, 0, 0, []))
    assert (report["expected"], report["missing"], report["gaps"], report["first"]) == (
        0,
        0,
        [],
        None,
    )
