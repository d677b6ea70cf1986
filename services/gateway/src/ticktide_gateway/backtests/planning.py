"""Backtest requests and how a batch is split into jobs. Pure: no I/O.

A batch is every parameter set of the grid on every (symbol, interval); a job
is up to `per_job` parameter sets of one series, so a worker loads a series
once and a job is a few seconds of work at most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ticktide_common.backtests.catalogue import RANKABLE_METRICS, RankableMetric
from ticktide_common.backtests.grid import MAX_AXES, MAX_LIST_ITEMS, MAX_NUMBER_CHARS
from ticktide_common.dates import UtcTime
from ticktide_common.messages import CryptoInterval, WalkForwardV1
from ticktide_gateway.validation import Symbol

__all__ = [
    "RANKABLE_METRICS",
    "RankableMetric",
    "BacktestBatchRequest",
    "BacktestRunRequest",
    "PlannedJob",
    "StrategyRef",
    "plan_jobs",
]

# Metrics a batch's summary can rank by: the catalogue's (a Literal, so that the
# OpenAPI document lists them as the enum of `rank_by`).

# A range "start:stop:step" is three numbers of at most MAX_NUMBER_CHARS each.
ParamValue = int | float | Annotated[str, Field(max_length=3 * MAX_NUMBER_CHARS + 2)] | bool
ParamList = Annotated[list[ParamValue], Field(max_length=MAX_LIST_ITEMS)]
Money = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class StrategyRef(BaseModel):
    """A saved strategy's version (`POST /api/strategies` answers both numbers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    version: Annotated[int, Field(ge=1, le=1_000_000)]


class _Costs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: UtcTime
    end: UtcTime
    strategy: Annotated[
        Annotated[str, Field(min_length=1, max_length=64, examples=["sma_cross"])] | StrategyRef,
        Field(
            description="a built-in strategy's name, or a saved strategy's "
            '{"id", "version"} (the caller\'s own or a system one)'
        ),
    ]
    fee: Annotated[float, Field(ge=0, lt=0.5, allow_inf_nan=False)] = 0.001
    slippage_bps: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] = 0.0
    initial_cash: Money = 10_000.0

    @model_validator(mode="after")
    def _ordered(self) -> _Costs:
        if self.end <= self.start:
            raise ValueError("end must be after start (start inclusive, end exclusive)")
        return self


class BacktestBatchRequest(_Costs):
    """A grid of backtests: every parameter set on every symbol and interval."""

    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=20)]
    intervals: Annotated[list[CryptoInterval], Field(min_length=1, max_length=3)]
    grid: Annotated[
        dict[Annotated[str, Field(max_length=64)], ParamList | ParamValue],
        Field(
            max_length=MAX_AXES,
            description='each parameter: a list of values, or a range "start:stop:step" '
            "(stop inclusive); parameters left out take their defaults. At most "
            f"{MAX_LIST_ITEMS} values per parameter; the grid's size is counted before "
            "it is expanded",
            examples=[{"fast": "5:50:5", "slow": [50, 100, 200]}],
        ),
    ] = Field(default_factory=dict)
    rank_by: Annotated[
        RankableMetric,
        Field(description="the metric the summary ranks results by (drawdowns smallest first)"),
    ] = "sharpe"
    walk_forward: Annotated[
        WalkForwardV1 | None,
        Field(
            description="rolling train/test windows in bars: each series runs as one job "
            "that picks the best parameters by rank_by on every train window, trades the "
            "next test window with them and reports the stitched out-of-sample result "
            "beside the in-sample best",
            examples=[{"train_bars": 720, "test_bars": 168}],
        ),
    ] = None

    @model_validator(mode="after")
    def _checked(self) -> BacktestBatchRequest:
        self.symbols = list(dict.fromkeys(self.symbols))
        self.intervals = list(dict.fromkeys(self.intervals))
        return self

    def engine_grid(self) -> dict[str, list[ParamValue] | str]:
        """The grid as the engine takes it: lists, or range strings."""
        grid: dict[str, list[ParamValue] | str] = {}
        for name, value in self.grid.items():
            if isinstance(value, list) or (isinstance(value, str) and ":" in value):
                grid[name] = value
            else:
                grid[name] = [value]
        return grid


class BacktestRunRequest(_Costs):
    """One backtest: one series, one parameter set; answered with its trades and equity."""

    symbol: Symbol
    interval: CryptoInterval
    params: Annotated[
        dict[Annotated[str, Field(max_length=64)], ParamValue], Field(max_length=MAX_AXES)
    ] = Field(default_factory=dict)


@dataclass(frozen=True)
class PlannedJob:
    job_id: int
    symbol: str
    interval: str
    param_sets: list[dict[str, Any]]


def plan_jobs(
    symbols: list[str],
    intervals: list[str],
    param_sets: list[dict[str, Any]],
    per_job: int,
    *,
    whole_grid: bool = False,
) -> list[PlannedJob]:
    """Split (symbols × intervals × param_sets) into jobs of at most `per_job` sets
    (`whole_grid`: one job per series, as walk-forward needs)."""
    per_job = len(param_sets) if whole_grid else max(1, per_job)
    chunks = math.ceil(len(param_sets) / per_job)
    jobs: list[PlannedJob] = []
    for symbol in symbols:
        for interval in intervals:
            for chunk in range(chunks):
                sets = param_sets[chunk * per_job : (chunk + 1) * per_job]
                jobs.append(PlannedJob(len(jobs), symbol, interval, sets))
    return jobs
