"""Which job failures are permanent (dead-lettered at once) and which are retried;
the time limit raised from the engine's check between units of work."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from pydantic import ValidationError

from ticktide_backtest_worker.engine import Bars, GridError, run_grid, walk_forward
from ticktide_backtest_worker.failures import JobDeadline, JobTimeLimitExceeded, permanent_reason
from ticktide_common.errors import PermanentError
from ticktide_common.messages import WalkForwardV1


def _validation_error() -> ValidationError:
    try:
        WalkForwardV1.model_validate({"train_bars": 0, "test_bars": 1})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a validation error")


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.ProgramLimitExceededError(
            "index row requires 16840 bytes, maximum size is 8191"
        ),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        asyncpg.exceptions.NumericValueOutOfRangeError("value out of range"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        GridError("strategy 'sma_cross' parameter 'slow': bad"),
        PermanentError("no BTCUSDT 1h candles in the job's range"),
        JobTimeLimitExceeded("over the limit"),
        ValueError("need initial_cash > 0"),
        _validation_error(),
    ],
)
def test_failures_no_retry_can_cure_are_permanent(exc: BaseException) -> None:
    reason = permanent_reason(exc)
    assert reason and str(exc).split(":")[0] in reason


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError("peer reset"),
        TimeoutError(),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        RuntimeError("job 3 has no recorded outcome"),
    ],
)
def test_other_failures_are_retried(exc: BaseException) -> None:
    assert permanent_reason(exc) is None


def _bars(n: int) -> Bars:
    price = np.linspace(100.0, 120.0, n) + np.sin(np.arange(n))
    return Bars(np.arange(n, dtype=np.int64) * 3600, price, price + 1, price - 1, price, np.ones(n))


def test_a_spent_deadline_stops_the_grid_and_the_walk_forward_before_their_work() -> None:
    spent = JobDeadline(0)
    costs = {"fee": 0.0, "slippage_bps": 0.0, "initial_cash": 1.0, "interval": "1h"}
    with pytest.raises(JobTimeLimitExceeded, match="time limit of 0 s"):
        run_grid(_bars(50), "sma_cross", [{"fast": 3, "slow": 10}], check=spent.check, **costs)
    with pytest.raises(JobTimeLimitExceeded):
        walk_forward(
            _bars(50),
            "sma_cross",
            [{"fast": 3, "slow": 10}],
            train_bars=20,
            test_bars=10,
            rank_by="sharpe",
            check=spent.check,
            **costs,
        )
    calls: list[None] = []
    run_grid(_bars(50), "sma_cross", [{}, {"fast": 2}], check=lambda: calls.append(None), **costs)
    assert len(calls) == 2  # once per parameter set
    JobDeadline(3600).check()  # an hour is not spent yet
