"""The one time parser (`to_utc`, `UtcTime`) and the backfill bounds: timezone
edges, years 1 and 9999 with offsets, garbage, numbers (Unix seconds)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from ticktide_common.dates import (
    DateOutOfRange,
    UtcDate,
    UtcTime,
    check_backfill_bounds,
    day_start,
    iso_z,
    to_utc,
)


class Window(BaseModel):
    start: UtcTime
    end: UtcTime | None = None


def test_naive_is_utc_and_offsets_are_converted() -> None:
    assert to_utc(datetime(2024, 1, 1, 5)) == datetime(2024, 1, 1, 5, tzinfo=UTC)
    plus_two = datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=2)))
    converted = to_utc(plus_two)
    assert converted == datetime(2024, 1, 1, 3, tzinfo=UTC) and converted.tzinfo is UTC


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T05:00:00+05:00", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00-05:00", datetime(1, 1, 1, 5, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("9999-12-31T23:00:00+05:00", datetime(9999, 12, 31, 18, tzinfo=UTC)),
        ("9999-12-31T18:59:59-05:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2024-03-31T03:30:00+03:00", datetime(2024, 3, 31, 0, 30, tzinfo=UTC)),
        ("2024-01-01T00:00:00+23:59", datetime(2023, 12, 31, 0, 1, tzinfo=UTC)),
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_edges_that_stay_in_years_1_to_9999(text: str, expected: datetime) -> None:
    assert Window.model_validate({"start": text}).start == expected


# The OpenAPI document says a `date-time` / `date` string: a number, or a numeric
# string (pydantic's lax mode reads both as Unix seconds), is refused (issue 10).
@pytest.mark.parametrize("body", ['{"start": 0}', '{"start": 1700000000.5}', '{"start": "0.5"}'])
def test_unix_seconds_are_not_a_time(body: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate_json(body)
    (error,) = caught.value.errors()
    assert error["loc"] == ("start",) and "Unix seconds is not accepted" in error["msg"], error


@pytest.mark.parametrize("body", ['{"day": 0}', '{"day": 19723}', '{"day": "1700000000"}'])
def test_unix_seconds_are_not_a_date(body: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Day.model_validate_json(body)
    (error,) = caught.value.errors()
    assert error["loc"] == ("day",) and "Unix seconds is not accepted" in error["msg"], error


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T04:59:59+05:00",
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:59:59-00:01",
    ],
)
def test_times_whose_utc_value_leaves_the_years_1_to_9999_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate({"start": "2024-01-01", "end": text})
    (error,) = caught.value.errors()
    assert error["loc"] == ("end",)
    assert "outside the years 1 to 9999 once converted to UTC" in error["msg"]
    assert "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in error["msg"]


def test_to_utc_raises_value_error_not_overflow_error() -> None:
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        to_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "2024-13-01",
        "2024-01-01T25:00:00Z",
        "10000-01-01",
        "0000-01-01",
        "1e308",
        "2024-01-01T00:00:00+25:00",
        [2024],
        {"year": 2024},
        None,
        True,
    ],
)
def test_garbage_is_a_validation_error(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate({"start": value})
    assert caught.value.errors()[0]["loc"] == ("start",)


BOUNDS = {
    "earliest": day_start(date(2017, 7, 14)),
    "now": datetime(2025, 3, 1, 12, tzinfo=UTC),
    "ahead": timedelta(days=1),
    "source": "crypto",
    "setting": "CRYPTO_HISTORY_START",
}


def test_backfill_bounds() -> None:
    check_backfill_bounds(
        start=datetime(2017, 7, 14, tzinfo=UTC), end=datetime(2025, 3, 2, 12, tzinfo=UTC), **BOUNDS
    )
    with pytest.raises(DateOutOfRange, match=r"start \(0001-01-01T00:00:00Z\) is before"):
        check_backfill_bounds(
            start=datetime(1, 1, 1, tzinfo=UTC), end=datetime(1, 2, 1, tzinfo=UTC), **BOUNDS
        )
    with pytest.raises(DateOutOfRange, match="starts 2017-07-14T00:00:00Z .CRYPTO_HISTORY_START"):
        check_backfill_bounds(
            start=datetime(2017, 7, 13, 23, tzinfo=UTC),
            end=datetime(2018, 1, 1, tzinfo=UTC),
            **BOUNDS,
        )
    with pytest.raises(DateOutOfRange, match=r"end \(9999-12-31T00:00:00Z\) is after 2025-03-02"):
        check_backfill_bounds(
            start=datetime(2024, 1, 1, tzinfo=UTC),
            end=datetime(9999, 12, 31, tzinfo=UTC),
            **BOUNDS,
        )


def test_iso_z() -> None:
    assert iso_z(datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-01-01T00:00:00Z"
    )


class Day(BaseModel):
    day: UtcDate


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2024-01-01", date(2024, 1, 1)),
        ("2024-01-01T00:00:00Z", date(2024, 1, 1)),
        ("2024-01-01T02:00:00+02:00", date(2024, 1, 1)),
        ("0001-01-01", date(1, 1, 1)),
        ("9999-12-31T00:00:00", date(9999, 12, 31)),
        (date(2024, 2, 29), date(2024, 2, 29)),
    ],
)
def test_dates_and_midnight_utc_times(value: object, expected: date) -> None:
    assert Day.model_validate({"day": value}).day == expected


@pytest.mark.parametrize(
    "value,reason",
    [
        ("0001-01-01T00:00:00+05:00", "outside the years 1 to 9999"),
        ("9999-12-31T23:00:00-05:00", "outside the years 1 to 9999"),
        ("2024-01-01T00:00:00+02:00", "zero time"),
        ("2024-01-01T05:00:00Z", "zero time"),
        ("2024-02-30", "date"),
        ("soon", "date"),
    ],
)
def test_other_date_inputs_are_refused_on_the_field(value: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Day.model_validate({"day": value})
    (error,) = caught.value.errors()
    assert error["loc"] == ("day",) and reason in error["msg"], error
