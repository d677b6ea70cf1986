"""Unit tests of the writer's pure logic (ticktide_writer.service, faults)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.settings import Settings
from ticktide_writer.faults import CommitFault
from ticktide_writer.service import (
    base_asset,
    plan_group,
    rows_changed_from_status,
    staging_rows,
    stored_event,
    unique_candles,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def candle(hour: int, close: str = "42000.10000000") -> CandleV1:
    return CandleV1(t=T0 + timedelta(hours=hour), o="42000.00000000", h="42100.01000000",
                    l="41999.99000000", c=close, v="12.34500000")


def batch(*candles: CandleV1, symbol: str = "BTCUSDT") -> CandleBatchV1:
    return CandleBatchV1(batch_id=uuid.uuid4(), symbol=symbol, interval="1h", source="binance",
                         candles=list(candles))


@pytest.mark.parametrize(("pair", "base"), [
    ("BTCUSDT", "BTC"), ("ETHBTC", "ETH"), ("BNBFDUSD", "BNB"), ("SOLUSDC", "SOL"),
    ("XRPEUR", "XRP"), ("AVAXTRY", "AVAX"), ("DOGEBUSD", "DOGE"), ("USDCUSDT", "USDC"),
    ("USDT", "USDT"), ("FOOBAR", "FOOBAR"),
])
def test_base_asset_strips_a_known_quote_asset(pair: str, base: str) -> None:
    assert base_asset(pair) == base


def test_plan_group_marks_unclaimed_and_repeated_ids_as_duplicates() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    plan = plan_group([a, b, a, c], claimed={a, c})
    assert plan.new == (0, 3)
    assert plan.duplicates == (1, 2)


def test_unique_candles_keeps_the_last_candle_of_an_open_time() -> None:
    first, second, updated = candle(0), candle(1), candle(0, close="1.5")
    assert unique_candles([first, second]) == [first, second]
    assert unique_candles([first, second, updated]) == [updated, second]


def test_staging_rows_keep_the_decimal_strings_untouched() -> None:
    rows = staging_rows(7, batch(candle(0, close="0.00001234"), candle(1)))
    assert rows[0] == (7, T0, "42000.00000000", "42100.01000000", "41999.99000000",
                       "0.00001234", "12.34500000")
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
        stored.batch_id, "BTCUSDT", "1h", "binance")
    assert event.first_t == T0 + timedelta(hours=3)
    assert event.last_t == T0 + timedelta(hours=5)
    assert (event.candles, event.rows_changed) == (3, 2)


def test_stored_event_of_an_empty_batch_has_no_times() -> None:
    event = stored_event(batch(), rows_changed=0)
    assert event.first_t is None and event.last_t is None and event.candles == 0


def test_commit_fault_is_inert_outside_tests() -> None:
    settings = Settings(ticktide_env="dev", ticktide_fault_exit_after_commit=1,
                        _env_file=None)  # type: ignore[call-arg]
    fault = CommitFault.from_settings(settings)
    fault.committed()  # would os._exit(137) if it were armed
    assert fault.exit_after_commit is None and fault.commits == 1


def test_commit_fault_is_armed_in_tests() -> None:
    settings = Settings(ticktide_env="test", ticktide_fault_exit_after_commit=3,
                        _env_file=None)  # type: ignore[call-arg]
    assert CommitFault.from_settings(settings).exit_after_commit == 3
