"""The worker implements the catalogue's strategies, the catalogue decides what they
are: a strategy missing from either side, a parameter whose name, type or bounds
differ, or a catalogue default the implementation rejects fails here."""

from __future__ import annotations

import numpy as np
import pytest

from ticktide_backtest_worker.engine import STRATEGIES, Bars, run_grid
from ticktide_backtest_worker.engine import strategies as engine_strategies
from ticktide_backtest_worker.engine.strategies import (
    Domain,
    catalogue_disagreements,
    implements,
)
from ticktide_common.backtests.catalogue import CATALOGUE, CrossParams, StrategyDefinition


def _bars(n: int = 300) -> Bars:
    price = 100.0 + np.cumsum(np.sin(np.arange(n) / 7.0))
    return Bars(np.arange(n, dtype=np.int64) * 3600, price, price + 1, price - 1, price,
                np.ones(n))  # fmt: skip


def test_every_catalogue_strategy_is_implemented_and_agrees() -> None:
    assert list(STRATEGIES) == list(CATALOGUE)
    assert catalogue_disagreements() == []


def test_a_strategy_outside_the_catalogue_cannot_register() -> None:
    with pytest.raises(LookupError, match="not in the catalogue"):
        implements("martingale")(lambda cache, p: (0, p, p, p))
    with pytest.raises(LookupError, match="twice"):
        implements("sma_cross")(lambda cache, p: (0, p, p, p))


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_the_catalogue_defaults_run(name: str) -> None:
    [result] = run_grid(
        _bars(), name, [CATALOGUE[name].defaults()], fee=0.001, slippage_bps=1.0,
        initial_cash=1000.0, interval="1h",
    )  # fmt: skip
    assert result.metrics["final_equity"] is not None


def test_a_disagreement_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = STRATEGIES["sma_cross"]
    # The implementation reads a parameter the catalogue does not declare.
    monkeypatch.setitem(
        STRATEGIES,  # type: ignore[arg-type]
        "sma_cross",
        type(spec)(spec.definition, spec.rule, {**spec.parameters, "extra": Domain(int)}),
    )
    assert any("extra" in p for p in catalogue_disagreements())
    # Bounds wider than the implementation's, and a type that differs.
    monkeypatch.setitem(
        STRATEGIES,  # type: ignore[arg-type]
        "sma_cross",
        type(spec)(spec.definition, spec.rule, {"fast": Domain(int, low=5), "slow": Domain(float)}),
    )
    problems = catalogue_disagreements()
    assert any("sma_cross.fast" in p and "[5" in p for p in problems)
    assert any("sma_cross.slow" in p and "'number'" in p for p in problems)
    # A catalogue strategy without an implementation.
    monkeypatch.setitem(
        CATALOGUE,  # type: ignore[arg-type]
        "sma_cross_2",
        StrategyDefinition("sma_cross_2", "another", CrossParams),
    )
    assert "sma_cross_2: in the catalogue, not implemented" in catalogue_disagreements()
    monkeypatch.setattr(engine_strategies, "_IMPLEMENTATIONS", {})
    missing = [p for p in catalogue_disagreements() if p.endswith("not implemented")]
    assert len(missing) == len(CATALOGUE)
