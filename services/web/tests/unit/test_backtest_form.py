"""The backtest pages' pure parts: the form read into a batch request (and
back), the API's rejections put beside their fields, how results sort and
metrics show, and a batch's progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ticktide_web.api import ApiError
from ticktide_web.pages.backtests.form import (
    api_field_errors,
    default_values,
    read_form,
    values_from_request,
)
from ticktide_web.pages.backtests.views import (
    json_block,
    metric_text,
    params_text,
    progress_of,
    sort_results,
)

STRATEGIES: dict[str, Any] = {
    "sma_cross": {
        "description": "cross",
        "parameters": {
            "properties": {
                "fast": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 10},
                "slow": {"type": "integer", "minimum": 2, "maximum": 10000, "default": 30},
            }
        },
    },
    "buy_and_hold": {"description": "hold", "parameters": {"properties": {}}},
}
SYMBOLS = [
    {
        "symbol": "BTCUSDT",
        "intervals": {
            "1h": {"candles": 48, "first": "2024-01-01T00:00:00Z", "last": "2024-01-02T23:00:00Z"}
        },
    }
]


def values(**overrides: str) -> dict[str, str]:
    found = default_values(STRATEGIES, SYMBOLS)
    found.update(p_fast="5:15:5", p_slow="20,30")
    found.update(overrides)
    return found


def test_defaults_come_from_the_schema_and_the_stored_series() -> None:
    found = default_values(STRATEGIES, SYMBOLS)
    assert found["strategy"] == "sma_cross"
    assert found["symbols"] == "BTCUSDT"
    assert (found["start"], found["end"]) == ("2024-01-01", "2024-01-03")
    assert (found["p_fast"], found["p_slow"]) == ("10", "30")
    assert "p_fast" not in default_values(STRATEGIES, SYMBOLS, "buy_and_hold")


def test_the_form_becomes_the_batch_request() -> None:
    body, errors = read_form(values(symbols="btcusdt, ETHUSDT", slippage_bps="5"), STRATEGIES)
    assert errors == {}
    assert body == {
        "strategy": "sma_cross",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["1h"],
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-03T00:00:00Z",
        "fee": 0.001,
        "slippage_bps": 5.0,
        "initial_cash": 10000.0,
        "rank_by": "sharpe",
        "grid": {"fast": [5, 10, 15], "slow": [20, 30]},
        "walk_forward": None,
    }
    walk, _ = read_form(values(train_bars="720", test_bars="168"), STRATEGIES)
    assert walk is not None and walk["walk_forward"] == {"train_bars": 720, "test_bars": 168}


def test_every_bad_field_has_its_own_message() -> None:
    body, errors = read_form(
        values(
            strategy="nope",
            symbols="",
            interval="2h",
            start="2024-02-01",
            end="2024-01-01",
            fee="x",
            slippage_bps="-1",
            initial_cash="0",
            rank_by="luck",
            train_bars="720",
        ),
        STRATEGIES,
    )
    assert body is None
    assert set(errors) == {
        "strategy", "symbols", "interval", "end", "fee", "slippage_bps", "initial_cash",
        "rank_by", "test_bars",
    }  # fmt: skip
    assert errors["end"].startswith("End must be after Start")
    assert errors["test_bars"].startswith("Walk-forward needs both")
    _, grid_errors = read_form(values(p_fast="5:x:5", p_slow=""), STRATEGIES)
    assert grid_errors["p_fast"].startswith("fast: 'x' is not a number")
    assert grid_errors["p_slow"].startswith("slow: enter a number")


def test_api_rejections_land_beside_their_fields() -> None:
    validation = ApiError(
        422,
        "body parameter 'fee': Input should be less than 0.5",
        [
            {"field": "body parameter 'fee'", "message": "Input should be less than 0.5"},
            {"field": "body parameter 'walk_forward.train_bars'", "message": "too small"},
            {"field": "body parameter 'symbols.0'", "message": "bad pattern"},
        ],
    )
    assert api_field_errors(validation, {"fast", "slow"}) == {
        "fee": "Input should be less than 0.5",
        "train_bars": "too small",
        "symbols": "bad pattern",
    }
    grid = ApiError(422, "strategy 'sma_cross' parameter 'fast': Input should be >= 1 (got 0)")
    assert api_field_errors(grid, {"fast", "slow"}) == {"p_fast": grid.message}
    unknown = ApiError(
        404, "unknown symbol 'XYZUSDT'; GET /api/crypto/symbols lists the known ones"
    )
    assert api_field_errors(unknown, set()) == {"symbols": unknown.message}
    empty = ApiError(422, "no candles stored in [2020-01-01, 2020-02-01) for X 1h; backfill")
    assert api_field_errors(empty, set()) == {"start": empty.message}
    assert api_field_errors(ApiError(422, "grid has more than 20000 combinations"), set()) == {}


def test_a_stored_request_fills_the_form_in_again() -> None:
    request = {
        "strategy": "sma_cross",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["4h"],
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-03-01T00:00:00Z",
        "grid": {"fast": [5, 10], "slow": "20:40:10"},
        "fee": 0.002,
        "slippage_bps": 5.0,
        "initial_cash": 500.0,
        "rank_by": "sortino",
        "walk_forward": {"train_bars": 100, "test_bars": 50},
    }
    found = values_from_request(request, default_values(STRATEGIES, SYMBOLS))
    assert found["symbols"] == "BTCUSDT,ETHUSDT" and found["interval"] == "4h"
    assert (found["start"], found["end"]) == ("2024-01-01", "2024-03-01")
    assert (found["p_fast"], found["p_slow"]) == ("5,10", "20:40:10")
    assert (found["fee"], found["slippage_bps"], found["initial_cash"]) == ("0.002", "5", "500")
    assert (found["train_bars"], found["test_bars"], found["rank_by"]) == ("100", "50", "sortino")
    body, errors = read_form(found, STRATEGIES)
    assert errors == {} and body is not None and body["grid"]["slow"] == [20, 30, 40]


def test_results_sort_with_missing_values_last_either_way() -> None:
    results = [
        {"symbol": "B", "params": {"fast": 5}, "metrics": {"sharpe": 1.0}},
        {"symbol": "A", "params": {"fast": 10}, "metrics": {"sharpe": None}},
        {"symbol": "C", "params": {"fast": 2}, "metrics": {"sharpe": -2.0}},
    ]
    assert [r["symbol"] for r in sort_results(results, "sharpe", "desc")] == ["B", "C", "A"]
    assert [r["symbol"] for r in sort_results(results, "sharpe", "asc")] == ["C", "B", "A"]
    assert [r["symbol"] for r in sort_results(results, "symbol", "asc")] == ["A", "B", "C"]
    assert [r["symbol"] for r in sort_results(results, "params", "asc")] == ["C", "B", "A"]


def test_metrics_and_parameters_as_shown() -> None:
    assert metric_text("total_return", 0.1234) == "12.34 %"
    assert metric_text("sharpe", 1.005) in ("1.00", "1.01")
    assert metric_text("trades", 1234) == "1,234"
    assert metric_text("final_equity", 10781.876) == "10,781.88"
    assert metric_text("profit_factor", None) == "—"
    assert params_text({"fast": 5, "slow": 20.0}) == "fast=5, slow=20"
    assert params_text({}) == "defaults"
    assert params_text({"walk_forward": "in_sample", "fast": 5}) == "in-sample best: fast=5"
    assert params_text({"walk_forward": "out_of_sample", "windows": [{}, {}]}).endswith(
        "(2 windows)"
    )
    assert (
        str(json_block({"x": "</script><b>&"}))
        == '{"x":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}'
    )


def test_progress_counts_every_finished_job_and_estimates_the_rest() -> None:
    created = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    running = progress_of(
        {"jobs": {"total": 4, "done": 1, "failed": 1, "skipped": 0}, "created_at": created,
         "finished_at": None, "status": "queued"}
    )  # fmt: skip
    assert (running["done"], running["total"], running["state"]) == (2, 4, "running")
    assert running["eta"] in ("60 s", "59 s", "61 s")
    waiting = progress_of({"jobs": {"total": 4}, "created_at": created, "finished_at": None})
    assert waiting["state"] == "queued" and waiting["eta"] is None
    over = progress_of(
        {"jobs": {"total": 4, "done": 2, "skipped": 2}, "created_at": created,
         "finished_at": datetime.now(UTC).isoformat(), "status": "cancelled"}
    )  # fmt: skip
    assert (over["state"], over["running"], over["done"]) == ("cancelled", False, 4)
