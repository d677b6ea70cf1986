"""The strategies: typed parameters, entry/exit rules, and the shared indicator cache.

Every rule is evaluated on bar t's close and acts at bar t+1's open (see simulate.py).
A crossover of a over b at t means a[t-1] < b[t-1] and a[t] > b[t].

- buy_and_hold: enter at the first opportunity (signal on bar 0, fill at bar 1's
  open), hold to the end.
- sma_cross / ema_cross (fast, slow): enter when the fast SMA/EMA of close crosses
  above the slow one, exit when it crosses below. fast >= slow is dropped from grids.
- rsi_reversion (period, lower, upper): Wilder RSI of close; enter when RSI < lower,
  exit when RSI > upper. lower >= upper is dropped from grids.
- macd (fast, slow, signal): MACD line = EMA(fast) - EMA(slow) of close, signal line =
  EMA(signal) of the MACD line; enter when the MACD line crosses above the signal
  line, exit when it crosses below. fast >= slow is dropped from grids.
- bollinger_reversion (period, k): middle = SMA(period) of close, lower = middle -
  k × population std of the same window; enter when close < lower, exit when
  close > middle.
- donchian_breakout (entry, exit): enter when close > the highest high of the
  `entry` bars before t, exit when close < the lowest low of the `exit` bars before t.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import indicators
from .bars import Bars
from .simulate import RULE_BREAKOUT, RULE_CROSS, RULE_ENTER_ONCE, RULE_REVERSION


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


class IndicatorCache:
    """Indicators of one series, each computed once per (kind, window) for a whole grid."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self._store: dict[tuple[Any, ...], np.ndarray] = {}

    def get(self, key: tuple[Any, ...], compute: Callable[[], np.ndarray]) -> np.ndarray:
        found = self._store.get(key)
        if found is None:
            found = compute()
            self._store[key] = found
        return found

    def sma(self, window: int) -> np.ndarray:
        return self.get(("sma", window), lambda: indicators.sma(self.bars.close, window))

    def ema(self, window: int) -> np.ndarray:
        return self.get(("ema", window), lambda: indicators.ema(self.bars.close, window))

    def constant(self, value: float) -> np.ndarray:
        return self.get(("const", value), lambda: np.full(len(self.bars), value))


Rule = tuple[int, np.ndarray, np.ndarray, np.ndarray]


def _buy_and_hold(cache: IndicatorCache, p: BuyAndHoldParams) -> Rule:
    close = cache.bars.close
    return RULE_ENTER_ONCE, close, close, close


def _sma_cross(cache: IndicatorCache, p: CrossParams) -> Rule:
    slow = cache.sma(p.slow)
    return RULE_CROSS, cache.sma(p.fast), slow, slow


def _ema_cross(cache: IndicatorCache, p: CrossParams) -> Rule:
    slow = cache.ema(p.slow)
    return RULE_CROSS, cache.ema(p.fast), slow, slow


def _rsi_reversion(cache: IndicatorCache, p: RsiReversionParams) -> Rule:
    rsi = cache.get(("rsi", p.period), lambda: indicators.rsi(cache.bars.close, p.period))
    return RULE_REVERSION, rsi, cache.constant(p.lower), cache.constant(p.upper)


def _macd(cache: IndicatorCache, p: MacdParams) -> Rule:
    line = cache.get(("macd", p.fast, p.slow), lambda: cache.ema(p.fast) - cache.ema(p.slow))
    signal = cache.get(
        ("macd_signal", p.fast, p.slow, p.signal), lambda: indicators.ema(line, p.signal)
    )
    return RULE_CROSS, line, signal, signal


def _bollinger(cache: IndicatorCache, p: BollingerReversionParams) -> Rule:
    middle = cache.sma(p.period)
    std = cache.get(("std", p.period), lambda: indicators.rolling_std(cache.bars.close, p.period))
    lower = cache.get(("boll_lower", p.period, p.k), lambda: middle - p.k * std)
    return RULE_REVERSION, cache.bars.close, lower, middle


def _donchian(cache: IndicatorCache, p: DonchianBreakoutParams) -> Rule:
    bars = cache.bars
    high = cache.get(("hh", p.entry), lambda: indicators.highest_before(bars.high, p.entry))
    low = cache.get(("ll", p.exit), lambda: indicators.lowest_before(bars.low, p.exit))
    return RULE_BREAKOUT, bars.close, low, high


@dataclass(frozen=True)
class StrategySpec:
    """A strategy: its parameter model, what it does, and how it becomes a rule."""

    name: str
    description: str
    params_model: type[StrategyParams]
    rule: Callable[[IndicatorCache, Any], Rule]
    feasible: Callable[[Any], bool] = lambda params: True


def _doc(summary: str) -> str:
    return summary + " Signals on a bar's close fill at the next bar's open."


STRATEGIES: Mapping[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "buy_and_hold",
            _doc("Enter at the first opportunity and hold to the end."),
            BuyAndHoldParams,
            _buy_and_hold,
        ),
        StrategySpec(
            "sma_cross",
            _doc("Enter when SMA(fast) crosses above SMA(slow); exit when it crosses below."),
            CrossParams,
            _sma_cross,
            lambda p: p.fast < p.slow,
        ),
        StrategySpec(
            "ema_cross",
            _doc("Enter when EMA(fast) crosses above EMA(slow); exit when it crosses below."),
            CrossParams,
            _ema_cross,
            lambda p: p.fast < p.slow,
        ),
        StrategySpec(
            "rsi_reversion",
            _doc("Wilder RSI(period): enter when RSI < lower; exit when RSI > upper."),
            RsiReversionParams,
            _rsi_reversion,
            lambda p: p.lower < p.upper,
        ),
        StrategySpec(
            "macd",
            _doc(
                "MACD line EMA(fast)-EMA(slow), signal line EMA(signal) of it: enter when the"
                " MACD line crosses above the signal line; exit when it crosses below."
            ),
            MacdParams,
            _macd,
            lambda p: p.fast < p.slow,
        ),
        StrategySpec(
            "bollinger_reversion",
            _doc(
                "Middle band SMA(period), lower band middle - k·std(period): enter when"
                " close < lower band; exit when close > middle band."
            ),
            BollingerReversionParams,
            _bollinger,
        ),
        StrategySpec(
            "donchian_breakout",
            _doc(
                "Enter when close > highest high of the previous `entry` bars; exit when"
                " close < lowest low of the previous `exit` bars."
            ),
            DonchianBreakoutParams,
            _donchian,
        ),
    )
}


def strategy_schemas() -> dict[str, dict[str, Any]]:
    """Each strategy's description and its parameters as JSON Schema."""
    return {
        name: {"description": spec.description, "parameters": spec.params_model.model_json_schema()}
        for name, spec in STRATEGIES.items()
    }
