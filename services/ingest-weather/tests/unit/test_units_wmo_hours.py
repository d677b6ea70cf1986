"""Unit conversion, WMO codes and hour arithmetic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ticktide_common.jobs import batch_id_for
from ticktide_ingest_weather.hours import (
    align_hour_down,
    align_hour_up,
    current_batch_id,
    hour_chunks,
    hours_in,
)
from ticktide_ingest_weather.scheduler import history_range
from ticktide_ingest_weather.units import (
    UnitError,
    kelvin_to_celsius,
    to_celsius,
    to_hpa,
    to_meters_per_second,
    to_percent,
)
from ticktide_ingest_weather.wmo import describe_wmo_code

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_kelvin_is_k_minus_273_15() -> None:
    for kelvin in (0.0, 273.15, 279.13, 298.48, 310.0):
        assert kelvin_to_celsius(kelvin) == kelvin - 273.15
        assert to_celsius(kelvin, "K") == kelvin - 273.15


def test_conversions() -> None:
    assert to_meters_per_second(36.0, "km/h") == 10.0
    assert to_meters_per_second(7.2, "km/h") == 7.2 / 3.6
    assert to_meters_per_second(10.0, "mp/h") == pytest.approx(4.4704)
    assert to_meters_per_second(10.0, "kn") == pytest.approx(5.14444, rel=1e-5)
    assert to_celsius(212.0, "°F") == 100.0
    assert to_hpa(101325.0, "Pa") == 1013.25
    assert to_percent(0.5, "fraction") == 50.0
    assert to_celsius(None, "°C") is None
    with pytest.raises(UnitError):
        to_hpa(1.0, "atm")


def test_wmo_codes() -> None:
    assert describe_wmo_code(0) == "Clear sky"
    assert describe_wmo_code(95) == "Thunderstorm"
    assert describe_wmo_code(3.0) == "Overcast"
    assert describe_wmo_code(42) == "WMO code 42"
    assert describe_wmo_code(None) is None


def test_alignment_and_hours() -> None:
    moment = T0 + timedelta(minutes=30)
    assert align_hour_down(moment) == T0
    assert align_hour_up(moment) == T0 + timedelta(hours=1)
    assert align_hour_up(T0) == T0
    assert list(hours_in(moment, T0 + timedelta(hours=3))) == [
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    ]


def test_chunks_of_a_month_and_more() -> None:
    january = hour_chunks(T0, datetime(2024, 2, 1, tzinfo=UTC))
    assert january == [(T0, datetime(2024, 2, 1, tzinfo=UTC))]
    quarter = hour_chunks(T0, datetime(2024, 4, 1, tzinfo=UTC))
    assert [int((b - a) / timedelta(hours=1)) for a, b in quarter] == [744, 744, 696]
    assert quarter[0][1] == quarter[1][0]
    assert hour_chunks(T0, T0) == []


def test_batch_ids_are_deterministic() -> None:
    job = uuid.uuid4()
    first = T0.isoformat()
    assert batch_id_for(job, "Helsinki", "1h", first) == batch_id_for(job, "Helsinki", "1h", first)
    assert batch_id_for(job, "Helsinki", "1h", first) == uuid.uuid5(
        job, "Helsinki:1h:2024-01-01T00:00:00+00:00"
    )
    assert batch_id_for(job, "Helsinki", "1h", first, simulated=True) == uuid.uuid5(
        job, "Helsinki:1h:2024-01-01T00:00:00+00:00:simulated"
    )
    assert current_batch_id("Tokyo", T0, "open-meteo") != current_batch_id("Tokyo", T0, "simulated")


def test_history_range() -> None:
    now = T0 + timedelta(days=40, minutes=20)
    current_hour = T0 + timedelta(days=40)
    assert history_range(None, now, 30) == (current_hour - timedelta(days=30), current_hour)
    last = current_hour - timedelta(hours=5)
    assert history_range(last, now, 30) == (last + timedelta(hours=1), current_hour)
    assert history_range(current_hour - timedelta(hours=1), now, 30) is None
