"""The backtests contract: importable without the engine's libraries, a catalogue
whose defaults are feasible, stream entries that encode and decode losslessly."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ticktide_common.backtests.catalogue import (
    CATALOGUE,
    LOWER_IS_BETTER,
    RANKABLE_METRICS,
    StrategyDefinition,
    strategy_schemas,
)
from ticktide_common.backtests.events import (
    EVENT_NAMES,
    EVENT_STREAM_VERSION,
    decode_entry,
    encode_entry,
    events_key,
    state_key,
)
from ticktide_common.backtests.grid import expand_grid

HEAVY = ("numpy", "numba", "llvmlite", "pandas")


def test_the_contract_imports_none_of_the_engines_libraries() -> None:
    code = (
        "import sys, ticktide_common.backtests.catalogue, ticktide_common.backtests.grid, "
        "ticktide_common.backtests.events, ticktide_common.backtests.walk_forward; "
        f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_ranking_metrics_and_defaults_are_consistent() -> None:
    assert LOWER_IS_BETTER <= set(RANKABLE_METRICS)
    for name, spec in CATALOGUE.items():
        defaults = spec.defaults()
        assert spec.feasible(SimpleNamespace(**defaults)), name
        assert expand_grid(name, {}, 1) == [defaults]
        schema = strategy_schemas()[name]
        assert schema["description"] == spec.description
        assert schema["parameters"]["additionalProperties"] is False
        for parameter, value in defaults.items():
            assert schema["parameters"]["properties"][parameter]["default"] == value


def test_constraints_read_as_written() -> None:
    assert [str(c) for c in CATALOGUE["sma_cross"].constraints] == ["fast < slow"]
    assert [str(c) for c in CATALOGUE["rsi_reversion"].constraints] == ["lower < upper"]


def test_stream_entries_round_trip_and_carry_their_version() -> None:
    fields = encode_entry("result", {"sharpe": float("inf"), "n": 1})
    assert fields["v"] == str(EVENT_STREAM_VERSION)
    assert json.loads(fields["data"]) == {"sharpe": None, "n": 1}
    as_read = {k.encode(): v.encode() for k, v in fields.items()}
    entry = decode_entry(b"1-0", as_read)
    assert (entry.id, entry.event, entry.version) == ("1-0", "result", EVENT_STREAM_VERSION)
    assert decode_entry("2-0", {"event": "queued", "data": "{}"}).version == 1  # before "v"
    assert set(EVENT_NAMES) == {"queued", "result", "error", "progress", "summary"}


@pytest.mark.parametrize("prefix", ["", "t1:"])
def test_key_names(prefix: str) -> None:
    assert events_key(prefix, "b") == f"{prefix}backtest:events:b"
    assert state_key(prefix, "b") == f"{prefix}backtest:state:b"


def test_a_definition_with_its_own_rule_is_checked_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class ScalarOnly(StrategyDefinition):
        def feasible(self, params: object) -> bool:
            return bool(params.fast < params.slow)  # type: ignore[attr-defined]

    grid = {"fast": "1:30:1", "slow": [5, 10.0, 25, 40]}
    by_constraints = expand_grid("sma_cross", grid, 1000)
    spec = CATALOGUE["sma_cross"]
    own = ScalarOnly(spec.name, spec.description, spec.params_model, spec.constraints)
    monkeypatch.setitem(CATALOGUE, "sma_cross", own)  # type: ignore[index]
    assert expand_grid("sma_cross", grid, 1000) == by_constraints
    assert len(by_constraints) == 4 + 9 + 24 + 30
