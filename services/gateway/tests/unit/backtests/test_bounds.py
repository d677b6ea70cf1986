"""The gateway's bounds on a backtest request, pure: the request model caps a grid's
size as sent (the walk-forward window count is the contract's, checked against the
engine in the worker's tests)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ticktide_gateway.backtests.planning import BacktestBatchRequest

BASE = {
    "symbols": ["BTCUSDT"],
    "intervals": ["1h"],
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-02-01T00:00:00Z",
    "strategy": "sma_cross",
}


@pytest.mark.parametrize(
    ("grid", "where"),
    [
        ({"fast": [5] * 1001}, "fast"),
        ({"fast": "1:" + "9" * 200 + ":1"}, "fast"),
        ({f"p{i}": [1] for i in range(33)}, "grid"),
        ({"x" * 65: [1]}, "grid"),
    ],
)
def test_the_model_caps_a_grid_as_sent(grid: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BacktestBatchRequest.model_validate({**BASE, "grid": grid})
    assert where in str(caught.value)
