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

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ticktide_common.backtests.catalogue import CATALOGUE, StrategyDefinition, StrategyParams

from . import indicators
from .bars import Bars
from .simulate import RULE_BREAKOUT, RULE_CROSS, RULE_ENTER_ONCE, RULE_REVERSION

__all__ = [
    "STRATEGIES",
    "Domain",
    "IndicatorCache",
    "StrategySpec",
    "catalogue_disagreements",
    "implements",
]


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
RuleFunction = Callable[[IndicatorCache, Any], Rule]


@dataclass(frozen=True)
class Domain:
    """What an implementation accepts for one parameter: its type and bounds (the
    catalogue's bounds must lie within them, its default too)."""

    kind: type[int] | type[float]
    low: float = -math.inf
    high: float = math.inf


@dataclass(frozen=True)
class Implementation:
    name: str
    rule: RuleFunction
    parameters: Mapping[str, Domain]


_IMPLEMENTATIONS: dict[str, Implementation] = {}


def implements(name: str, **parameters: Domain) -> Callable[[RuleFunction], RuleFunction]:
    """Register `rule` as the implementation of the catalogue's strategy `name`,
    reading the parameters named (each within its domain)."""

    def register(rule: RuleFunction) -> RuleFunction:
        if name not in CATALOGUE:
            raise LookupError(f"strategy {name!r} is not in the catalogue")
        if name in _IMPLEMENTATIONS:
            raise LookupError(f"strategy {name!r} is implemented twice")
        _IMPLEMENTATIONS[name] = Implementation(name, rule, parameters)
        return rule

    return register


WINDOW = Domain(int, low=1)


@implements("buy_and_hold")
def _buy_and_hold(cache: IndicatorCache, p: Any) -> Rule:
    close = cache.bars.close
    return RULE_ENTER_ONCE, close, close, close


@implements("sma_cross", fast=WINDOW, slow=WINDOW)
def _sma_cross(cache: IndicatorCache, p: Any) -> Rule:
    slow = cache.sma(p.slow)
    return RULE_CROSS, cache.sma(p.fast), slow, slow


@implements("ema_cross", fast=WINDOW, slow=WINDOW)
def _ema_cross(cache: IndicatorCache, p: Any) -> Rule:
    slow = cache.ema(p.slow)
    return RULE_CROSS, cache.ema(p.fast), slow, slow


@implements(
    "rsi_reversion", period=WINDOW, lower=Domain(float, 0, 100), upper=Domain(float, 0, 100)
)
def _rsi_reversion(cache: IndicatorCache, p: Any) -> Rule:
    rsi = cache.get(("rsi", p.period), lambda: indicators.rsi(cache.bars.close, p.period))
    return RULE_REVERSION, rsi, cache.constant(p.lower), cache.constant(p.upper)


@implements("macd", fast=WINDOW, slow=WINDOW, signal=WINDOW)
def _macd(cache: IndicatorCache, p: Any) -> Rule:
    line = cache.get(("macd", p.fast, p.slow), lambda: cache.ema(p.fast) - cache.ema(p.slow))
    signal = cache.get(
        ("macd_signal", p.fast, p.slow, p.signal), lambda: indicators.ema(line, p.signal)
    )
    return RULE_CROSS, line, signal, signal


@implements("bollinger_reversion", period=WINDOW, k=Domain(float, low=0))
def _bollinger(cache: IndicatorCache, p: Any) -> Rule:
    middle = cache.sma(p.period)
    std = cache.get(("std", p.period), lambda: indicators.rolling_std(cache.bars.close, p.period))
    lower = cache.get(("boll_lower", p.period, p.k), lambda: middle - p.k * std)
    return RULE_REVERSION, cache.bars.close, lower, middle


@implements("donchian_breakout", entry=WINDOW, exit=WINDOW)
def _donchian(cache: IndicatorCache, p: Any) -> Rule:
    bars = cache.bars
    high = cache.get(("hh", p.entry), lambda: indicators.highest_before(bars.high, p.entry))
    low = cache.get(("ll", p.exit), lambda: indicators.lowest_before(bars.low, p.exit))
    return RULE_BREAKOUT, bars.close, low, high


@dataclass(frozen=True)
class StrategySpec:
    """A strategy as the engine runs it: the catalogue's definition (parameter model,
    description, constraints) and the rule that implements it."""

    definition: StrategyDefinition
    rule: RuleFunction
    parameters: Mapping[str, Domain] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def params_model(self) -> type[StrategyParams]:
        return self.definition.params_model

    def feasible(self, params: Any) -> Any:
        return self.definition.feasible(params)


# In the catalogue's order; a strategy of the catalogue without an implementation is
# missing here (and catalogue_disagreements says so).
STRATEGIES: Mapping[str, StrategySpec] = {
    name: StrategySpec(definition, found.rule, found.parameters)
    for name, definition in CATALOGUE.items()
    if (found := _IMPLEMENTATIONS.get(name)) is not None
}

_JSON_TYPES = {int: "integer", float: "number"}


def _bounds_problems(
    name: str, parameter: str, schema: dict[str, Any], domain: Domain
) -> list[str]:
    where = f"{name}.{parameter}"
    problems: list[str] = []
    if schema.get("type") != _JSON_TYPES[domain.kind]:
        problems.append(
            f"{where}: the catalogue's type is {schema.get('type')!r}, the implementation "
            f"takes {_JSON_TYPES[domain.kind]!r}"
        )
    low = schema.get("minimum", schema.get("exclusiveMinimum", -math.inf))
    high = schema.get("maximum", schema.get("exclusiveMaximum", math.inf))
    if low < domain.low or high > domain.high:
        problems.append(
            f"{where}: the catalogue allows [{low}, {high}], the implementation only "
            f"[{domain.low}, {domain.high}]"
        )
    default = schema.get("default")
    if default is None or not domain.low <= default <= domain.high:
        problems.append(
            f"{where}: the catalogue's default {default!r} is outside the implementation's bounds"
        )
    return problems


def catalogue_disagreements() -> list[str]:
    """Where the catalogue and these implementations disagree (empty when they agree):
    a strategy missing on either side, a parameter name, type or bound that differs."""
    problems = [
        f"{name}: in the catalogue, not implemented"
        for name in CATALOGUE
        if name not in _IMPLEMENTATIONS
    ]
    for name, spec in STRATEGIES.items():
        properties = spec.definition.parameters_schema().get("properties", {})
        declared, read = set(properties), set(spec.parameters)
        if declared != read:
            problems.append(
                f"{name}: the catalogue's parameters are {sorted(declared)}, the "
                f"implementation reads {sorted(read)}"
            )
        for parameter in sorted(declared & read):
            problems.extend(
                _bounds_problems(name, parameter, properties[parameter], spec.parameters[parameter])
            )
    return problems
