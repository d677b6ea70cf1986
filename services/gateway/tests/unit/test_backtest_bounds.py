"""The gateway's bounds on a backtest request, pure: the walk-forward window count
agrees with the engine's, the request model caps a grid's size as sent."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ticktide_backtest_worker.engine import Bars, walk_forward
from ticktide_gateway.backtest.planning import BacktestBatchRequest
from ticktide_gateway.backtest.submission import walk_forward_windows

BASE = {
    "symbols": ["BTCUSDT"],
    "intervals": ["1h"],
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-02-01T00:00:00Z",
    "strategy": "sma_cross",
}


@pytest.mark.parametrize(
    ("bars", "train", "test"), [(40, 10, 5), (41, 10, 5), (44, 10, 5), (11, 10, 7), (30, 2, 1)]
)
def test_the_window_count_is_the_engines(bars: int, train: int, test: int) -> None:
    price = np.linspace(100.0, 120.0, bars) + np.sin(np.arange(bars))
    series = Bars(np.arange(bars, dtype=np.int64) * 3600, price, price + 1, price - 1, price,
                  np.ones(bars))  # fmt: skip
    found = walk_forward(
        series, "sma_cross", [{"fast": 2, "slow": 4}], train_bars=train, test_bars=test,
        rank_by="sharpe", fee=0.0, slippage_bps=0.0, initial_cash=1.0, interval="1h",
    )  # fmt: skip
    assert walk_forward_windows(bars, train, test) == len(found.windows)
    assert walk_forward_windows(train, train, test) == 0


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
