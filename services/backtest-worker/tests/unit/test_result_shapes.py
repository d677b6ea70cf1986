"""What the worker stores is what the gateway's response models document: a result
row, read back as JSON, validates as a run's result and as a batch's result (also
for a walk-forward), so the OpenAPI document says what the routes answer."""

from __future__ import annotations

import json

import numpy as np

from ticktide_backtest_worker.engine import Bars, run_grid, walk_forward
from ticktide_backtest_worker.worker import _result_row
from ticktide_common.backtests.events import finite
from ticktide_gateway.backtests.schemas import BatchResult, RunResult

COSTS = {"fee": 0.001, "slippage_bps": 2.0, "initial_cash": 1000.0, "interval": "1h"}


def _bars(n: int = 400) -> Bars:
    price = 100.0 + np.cumsum(np.sin(np.arange(n) / 5.0))
    return Bars(np.arange(n, dtype=np.int64) * 3600, price, price + 1, price - 1, price,
                np.ones(n))  # fmt: skip


def _stored(value: object) -> object:
    return json.loads(json.dumps(value))  # as the jsonb column gives it back


def test_a_run_result_is_what_run_result_documents() -> None:
    [result] = run_grid(_bars(), "sma_cross", [{"fast": 3, "slow": 12}], details=True, **COSTS)
    row = _result_row(result, details=True)
    assert row.trades, "the series should trade"
    body = {"metrics": _stored(row.metrics), "trades": _stored(row.trades),
            "equity": _stored(row.equity)}  # fmt: skip
    parsed = RunResult.model_validate(body)
    assert parsed.model_dump(mode="json", by_alias=True) == body


def test_batch_results_are_what_batch_result_documents() -> None:
    for result in run_grid(_bars(), "rsi_reversion", [{}, {"period": 5}], **COSTS):
        row = _result_row(result, details=False)
        body = {"job_id": 0, "symbol": "BTCUSDT", "interval": "1h",
                "params": _stored(row.params), "metrics": _stored(row.metrics)}  # fmt: skip
        assert BatchResult.model_validate(body).model_dump(mode="json") == body
    found = walk_forward(
        _bars(), "sma_cross", [{"fast": 2, "slow": 6}, {"fast": 3, "slow": 9}],
        train_bars=100, test_bars=50, rank_by="sharpe", **COSTS,
    )  # fmt: skip
    for result in (found.out_of_sample, found.in_sample):
        body = {"job_id": 0, "symbol": "BTCUSDT", "interval": "1h",
                "params": _stored(finite(dict(result.params))),
                "metrics": _stored(_result_row(result, details=False).metrics)}  # fmt: skip
        BatchResult.model_validate(body)
