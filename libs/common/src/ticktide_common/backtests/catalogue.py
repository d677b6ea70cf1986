"""The strategy catalogue: what strategies exist, what their parameters are (typed,
bounded, with defaults), which parameter combinations are infeasible, and which
metrics results can be ranked by. Data only: the backtest workers implement the
strategies (and a worker test fails if its implementations and this catalogue
disagree); the gateway validates requests and answers
`GET /api/crypto/backtest/strategies` from it without loading the engine.

Changing a parameter's name, type or bounds here changes the API: the workers
must implement it in the same release.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "LOWER_IS_BETTER",
    "RANKABLE_METRICS",
    "Constraint",
    "RankableMetric",
    "StrategyDefinition",
    "StrategyParams",
    "strategy_schemas",
]

# Bumped when a strategy or a parameter changes incompatibly (a rename, a narrower
# bound): stored batches then name parameters of another version.
CATALOGUE_VERSION = 1

# Metrics a batch's summary can rank by (every result carries them). A Literal, so
# that the OpenAPI document lists them as the enum of `rank_by`.
RankableMetric = Literal[
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trades",
    "exposure",
    "final_equity",
]
RANKABLE_METRICS: tuple[str, ...] = get_args(RankableMetric)
# Metrics where smaller is better; every other metric ranks larger first.
LOWER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_duration"})


class StrategyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuyAndHoldParams(StrategyParams):
    pass


class CrossParams(StrategyParams):
    fast: int = Field(10, ge=1, le=5000, description="fast moving-average window (bars)")
    slow: int = Field(30, ge=2, le=10000, description="slow moving-average window (bars)")


class RsiReversionParams(StrategyParams):
    period: int = Field(14, ge=2, le=1000, description="Wilder RSI period (bars)")
    lower: float = Field(30.0, ge=0, le=100, description="enter when RSI is below this")
    upper: float = Field(70.0, ge=0, le=100, description="exit when RSI is above this")


class MacdParams(StrategyParams):
    fast: int = Field(12, ge=1, le=5000, description="fast EMA window (bars)")
    slow: int = Field(26, ge=2, le=10000, description="slow EMA window (bars)")
    signal: int = Field(9, ge=1, le=5000, description="signal-line EMA window (bars)")


class BollingerReversionParams(StrategyParams):
    period: int = Field(20, ge=2, le=5000, description="band window (bars)")
    k: float = Field(2.0, gt=0, le=10, description="band width in standard deviations")


class DonchianBreakoutParams(StrategyParams):
    entry: int = Field(20, ge=1, le=5000, description="enter above the high of this many bars")
    exit: int = Field(10, ge=1, le=5000, description="exit below the low of this many bars")


_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {"<": operator.lt}


@dataclass(frozen=True)
class Constraint:
    """`left op right` must hold between two parameters of a combination; others are
    dropped from grids. `holds` works on numbers and, element-wise, on numpy arrays."""

    left: str
    op: Literal["<"]
    right: str

    def holds(self, params: Any) -> Any:
        return self.compare(getattr(params, self.left), getattr(params, self.right))

    def compare(self, left: Any, right: Any) -> Any:
        """`left op right` on the two values (numbers or arrays)."""
        return _OPERATORS[self.op](left, right)

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class StrategyDefinition:
    """A strategy as the API knows it: name, what it does, its parameters (a pydantic
    model: types, bounds, defaults, descriptions) and its feasibility constraints."""

    name: str
    description: str
    params_model: type[StrategyParams]
    constraints: tuple[Constraint, ...] = field(default=())

    def defaults(self) -> dict[str, Any]:
        return self.params_model().model_dump()

    def parameters_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()

    def feasible(self, params: Any) -> Any:
        """Whether a combination (attributes by name) satisfies every constraint."""
        verdict: Any = True
        for constraint in self.constraints:
            verdict = verdict & constraint.holds(params)
        return verdict


def _doc(summary: str) -> str:
    return summary + " Signals on a bar's close fill at the next bar's open."


_FAST_BELOW_SLOW = (Constraint("fast", "<", "slow"),)

CATALOGUE: Mapping[str, StrategyDefinition] = {
    definition.name: definition
    for definition in (
        StrategyDefinition(
            "buy_and_hold",
            _doc("Enter at the first opportunity and hold to the end."),
            BuyAndHoldParams,
        ),
        StrategyDefinition(
            "sma_cross",
            _doc("Enter when SMA(fast) crosses above SMA(slow); exit when it crosses below."),
            CrossParams,
            _FAST_BELOW_SLOW,
        ),
        StrategyDefinition(
            "ema_cross",
            _doc("Enter when EMA(fast) crosses above EMA(slow); exit when it crosses below."),
            CrossParams,
            _FAST_BELOW_SLOW,
        ),
        StrategyDefinition(
            "rsi_reversion",
            _doc("Wilder RSI(period): enter when RSI < lower; exit when RSI > upper."),
            RsiReversionParams,
            (Constraint("lower", "<", "upper"),),
        ),
        StrategyDefinition(
            "macd",
            _doc(
                "MACD line EMA(fast)-EMA(slow), signal line EMA(signal) of it: enter when the"
                " MACD line crosses above the signal line; exit when it crosses below."
            ),
            MacdParams,
            _FAST_BELOW_SLOW,
        ),
        StrategyDefinition(
            "bollinger_reversion",
            _doc(
                "Middle band SMA(period), lower band middle - k·std(period): enter when"
                " close < lower band; exit when close > middle band."
            ),
            BollingerReversionParams,
        ),
        StrategyDefinition(
            "donchian_breakout",
            _doc(
                "Enter when close > highest high of the previous `entry` bars; exit when"
                " close < lowest low of the previous `exit` bars."
            ),
            DonchianBreakoutParams,
        ),
    )
}


def strategy_schemas() -> dict[str, dict[str, Any]]:
    """Each strategy's description and its parameters as JSON Schema (the answer of
    `GET /api/crypto/backtest/strategies`)."""
    return {
        name: {"description": spec.description, "parameters": spec.parameters_schema()}
        for name, spec in CATALOGUE.items()
    }
