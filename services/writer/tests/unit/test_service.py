"""Unit tests of the writer's pure logic (ticktide_writer.service, faults)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ticktide_common.faults import CommitFault
from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.service import (
    BatchSpan,
    base_asset,
    batch_span,
    copy_text,
    plan_group,
    rows_changed_from_status,
    split_fresh,
    staging_rows,
    stored_event,
    unique_positions,
)
from ticktide_writer.settings import WriterSettings

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def candle(hour: int, close: str = "42000.10000000") -> CandleV1:
    return CandleV1(
        t=T0 + timedelta(hours=hour),
        o="42000.00000000",
        h="42100.01000000",
        l="41999.99000000",
        c=close,
        v="12.34500000",
    )


def batch(*candles: CandleV1, symbol: str = "BTCUSDT") -> DeliveredBatch:
    return DeliveredBatch.from_message(
        CandleBatchV1(
            batch_id=uuid.uuid4(),
            symbol=symbol,
            interval="1h",
            source="binance",
            candles=list(candles),
        )
    )


@pytest.mark.parametrize(
    ("pair", "base"),
    [
        ("BTCUSDT", "BTC"),
        ("ETHBTC", "ETH"),
        ("BNBFDUSD", "BNB"),
        ("SOLUSDC", "SOL"),
        ("XRPEUR", "XRP"),
        ("AVAXTRY", "AVAX"),
        ("DOGEBUSD", "DOGE"),
        ("USDCUSDT", "USDC"),
        ("USDT", "USDT"),
        ("FOOBAR", "FOOBAR"),
    ],
)
def test_base_asset_strips_a_known_quote_asset(pair: str, base: str) -> None:
    assert base_asset(pair) == base


def test_plan_group_marks_unclaimed_and_repeated_ids_as_duplicates() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    plan = plan_group([a, b, a, c], claimed={a, c})
    assert plan.new == (0, 3)
    assert plan.duplicates == (1, 2)


def test_unique_positions_keep_the_last_candle_of_an_open_time() -> None:
    first, second, updated = candle(0), candle(1), candle(0, close="1.5")
    assert list(unique_positions(batch(first, second))) == [0, 1]
    assert list(unique_positions(batch(first, second, updated))) == [2, 1]
    with_micros = batch(first, candle(0).model_copy(update={"t": T0 + timedelta(microseconds=5)}))
    assert with_micros.time_text is None  # unique by the datetimes then
    assert list(unique_positions(with_micros)) == [0, 1]


def test_staging_rows_keep_the_last_candle_of_an_open_time() -> None:
    rows = staging_rows(3, batch(candle(0), candle(1), candle(0, close="1.5")))
    assert [(row[1], row[5]) for row in rows] == [
        (T0, "1.5"),
        (T0 + timedelta(hours=1), "42000.10000000"),
    ]


def test_staging_rows_keep_the_decimal_strings_untouched() -> None:
    rows = staging_rows(7, batch(candle(0, close="0.00001234"), candle(1)))
    assert rows[0] == (
        7,
        T0,
        "42000.00000000",
        "42100.01000000",
        "41999.99000000",
        "0.00001234",
        "12.34500000",
    )
    assert rows[1][1] == T0 + timedelta(hours=1)


@pytest.mark.parametrize(("status", "count"), [("INSERT 0 1000", 1000), ("INSERT 0 0", 0)])
def test_rows_changed_from_the_command_tag(status: str, count: int) -> None:
    assert rows_changed_from_status(status) == count


def test_rows_changed_refuses_another_command_tag() -> None:
    with pytest.raises(ValueError, match="INSERT"):
        rows_changed_from_status("UPDATE 3")


def test_stored_event_spans_the_batch() -> None:
    stored = batch(candle(5), candle(3), candle(4))
    event = stored_event(stored, rows_changed=2)
    assert (event.batch_id, event.symbol, event.interval, event.source) == (
        stored.batch_id,
        "BTCUSDT",
        "1h",
        "binance",
    )
    assert event.first_t == T0 + timedelta(hours=3)
    assert event.last_t == T0 + timedelta(hours=5)
    assert (event.candles, event.rows_changed) == (3, 2)


def test_stored_event_of_an_empty_batch_has_no_times() -> None:
    event = stored_event(batch(), rows_changed=0)
    assert event.first_t is None and event.last_t is None and event.candles == 0


def test_commit_fault_is_inert_outside_tests() -> None:
    settings = WriterSettings(
        ticktide_env="dev",
        ticktide_fault_exit_after_commit=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    fault = CommitFault.from_settings(settings)
    fault.committed()  # would os._exit(137) if it were armed
    assert fault.exit_after_commit is None and fault.commits == 1


def test_commit_fault_is_armed_in_tests() -> None:
    settings = WriterSettings(
        ticktide_env="test",
        ticktide_fault_exit_after_commit=3,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert CommitFault.from_settings(settings).exit_after_commit == 3


def span(no: int, first: int, last: int, crypto_id: int = 1, interval: str = "1h") -> BatchSpan:
    return BatchSpan(
        no, crypto_id, interval, T0 + timedelta(hours=first), T0 + timedelta(hours=last)
    )


def test_batch_span_covers_min_to_max_and_is_none_when_empty() -> None:
    assert batch_span(4, 9, batch(candle(3), candle(1), candle(2))) == span(4, 1, 3, crypto_id=9)
    assert batch_span(0, 9, batch()) is None


def test_split_fresh_merges_batches_overlapping_stored_rows_or_earlier_batches() -> None:
    spans = [
        span(0, 0, 9),  # fresh
        span(1, 10, 19),  # overlaps stored rows
        span(2, 5, 12),  # overlaps batch 0
        span(3, 5, 12, crypto_id=2),  # other series: fresh
        span(4, 5, 12, interval="4h"),  # other interval: fresh
        span(5, 20, 29),  # touches nothing earlier: fresh
        span(6, 29, 30),  # shares its first hour with batch 5
    ]
    assert split_fresh(spans, overlapping_stored={1}) == ([0, 3, 4, 5], [1, 2, 6])


def test_copy_text_renders_rows_of_the_copy_text_format() -> None:
    rendered = copy_text(7, batch(candle(0, close="0.00001234"), candle(1)))
    assert rendered is not None
    text, rows = rendered
    assert rows == 2
    assert text.splitlines()[0].split("\t") == [
        "7",
        "2024-03-01T00:00:00Z",
        "1h",
        "42000.00000000",
        "42100.01000000",
        "41999.99000000",
        "0.00001234",
        "12.34500000",
        "binance",
        '{"t":"2024-03-01T00:00:00Z","o":42000.00000000,"h":42100.01000000,'
        '"l":41999.99000000,"c":0.00001234,"v":12.34500000}',
    ]


@pytest.mark.parametrize("value", ["1e-8", "+1.5", ".5", "05", "5.", "-0.0", "1.5E2"])
def test_copy_text_leaves_decimals_numeric_prints_differently_to_the_upsert(value: str) -> None:
    """Their JSON must be `numeric::text` of the stored value, which PostgreSQL
    renders in the staging path; the fresh COPY path takes only strings that
    print back unchanged."""
    assert copy_text(7, batch(candle(0), candle(1, close=value))) is None


def test_copy_text_keeps_one_row_per_open_time() -> None:
    rendered = copy_text(7, batch(candle(0), candle(0, close="9.9")))
    assert rendered is not None and rendered[1] == 1 and "\t9.9\t" in rendered[0]


@pytest.mark.parametrize("value", ["1.5\t", "\n1.5", " 1.5\r"])
def test_copy_text_refuses_values_with_copy_control_characters(value: str) -> None:
    """The message model refuses them; copy_text stays safe for unvalidated data too."""
    with pytest.raises(ValidationError):
        candle(0, close=value)
    unvalidated = CandleV1.model_construct(**{**candle(0).model_dump(), "c": value})
    message = CandleBatchV1.model_construct(
        batch_id=uuid.uuid4(), symbol="BTCUSDT", interval="1h", source="binance"
    )
    object.__setattr__(message, "candles", [unvalidated])
    assert copy_text(7, DeliveredBatch.from_message(message)) is None


def test_copy_text_leaves_times_that_are_not_whole_seconds_to_the_upsert() -> None:
    late = candle(1).model_copy(update={"t": T0 + timedelta(hours=1, microseconds=250)})
    assert copy_text(7, batch(candle(0), late)) is None


def test_copy_status_counts_rows() -> None:
    assert rows_changed_from_status("COPY 20000") == 20000
