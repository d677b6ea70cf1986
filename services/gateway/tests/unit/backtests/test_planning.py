"""Backtest requests and job planning (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ticktide_gateway.backtests.planning import BacktestBatchRequest, plan_jobs
from ticktide_gateway.backtests.sse import valid_last_event_id

BASE = {
    "symbols": ["btcusdt", "BTCUSDT", "ETHUSDT"],
    "intervals": ["1h"],
    "start": "2024-01-01T00:00:00",
    "end": "2024-02-01T00:00:00Z",
    "strategy": "sma_cross",
    "grid": {"fast": "5:10:5", "slow": [20, 30], "note": "x", "k": 2.0},
}


def test_request_normalises_symbols_times_and_grid() -> None:
    request = BacktestBatchRequest.model_validate(BASE)
    assert request.symbols == ["BTCUSDT", "ETHUSDT"]  # upper-cased, duplicates dropped
    assert request.start.tzinfo is not None  # naive means UTC
    assert request.engine_grid() == {
        "fast": "5:10:5",
        "slow": [20, 30],
        "note": ["x"],
        "k": [2.0],
    }
    assert request.rank_by == "sharpe" and request.fee == 0.001


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"end": "2023-01-01T00:00:00Z"}, "end must be after start"),
        ({"rank_by": "vibes"}, "rank_by\n  Input should be 'total_return', 'cagr'"),
        ({"walk_forward": {"windows": 4}}, "walk_forward"),
        ({"symbols": ["BTC-USDT"]}, "symbols"),
        ({"slippage_bps": float("nan")}, "slippage_bps"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_request_rejections_say_what(change: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BacktestBatchRequest.model_validate({**BASE, **change})
    assert says in str(caught.value)


def test_jobs_split_each_series_into_chunks_and_number_them() -> None:
    sets = [{"fast": i} for i in range(7)]
    jobs = plan_jobs(["A", "B"], ["1h", "4h"], sets, per_job=3)
    assert len(jobs) == 2 * 2 * 3
    assert [job.job_id for job in jobs] == list(range(12))
    assert [len(job.param_sets) for job in jobs[:3]] == [3, 3, 1]
    assert (jobs[3].symbol, jobs[3].interval) == ("A", "4h")
    every = [(j.symbol, j.interval, p["fast"]) for j in jobs for p in j.param_sets]
    assert len(every) == len(set(every)) == 28


def test_last_event_id_accepts_stream_ids_only() -> None:
    assert valid_last_event_id("1700000000000-3") == "1700000000000-3"
    assert valid_last_event_id(None) == "0"
    assert valid_last_event_id("$") == "0"
    assert valid_last_event_id("1-2 OR 1=1") == "0"
