"""Pure helpers around jobs: JSON-safe results and dead-letter reasons."""

from __future__ import annotations

import numpy as np

from ticktide_backtest_worker.dead_letters import dead_letter_reason
from ticktide_common.backtests.events import finite


def test_finite_makes_numpy_and_non_finite_values_json_safe() -> None:
    value = {"a": np.float64(1.5), "b": float("inf"), "c": [np.int64(3), float("nan")]}
    assert finite(value) == {"a": 1.5, "b": None, "c": [3, None]}
    assert finite(np.array([1.0, np.inf])) == [1.0, None]
    assert finite((1, "x", True)) == [1, "x", True]


def test_dead_letter_reason_names_the_cause() -> None:
    limit = {"x-first-death-reason": b"delivery_limit", "x-death": [{"count": 1}]}
    assert "delivery limit" in dead_letter_reason(limit)
    assert "rejected" in dead_letter_reason({"x-death": [{"reason": "rejected", "count": 1}]})
    assert "unknown reason" in dead_letter_reason(None)
