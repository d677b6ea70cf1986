"""The language's checks: what is accepted, what is refused, and where the error
points (code, field, span, hint)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ticktide_common.rules import LANGUAGE, RuleErrors, Span, check_document
from ticktide_common.rules.limits import MAX_DEPTH, MAX_SOURCE_CHARS
from ticktide_common.rules.system import SYSTEM_STRATEGIES


def document(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "language": LANGUAGE,
        "params": {
            "fast": {"type": "int", "min": 2, "max": 50, "default": 10},
            "slow": {"type": "int", "min": 5, "max": 200, "default": 30},
            "k": {"type": "float", "min": 0.5, "max": 3.0, "default": 2.0},
        },
        "constraints": ["fast < slow"],
        "entry": "crosses_above(ema(close, fast), ema(close, slow))",
        "exit": "close < sma(close, slow) - k * stdev(close, slow)",
    }
    base.update(overrides)
    return base


def errors_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(RuleErrors) as caught:
        check_document(doc)
    return [error.as_json() for error in caught.value.errors]


def test_every_system_strategy_is_a_valid_document() -> None:
    for name, doc in SYSTEM_STRATEGIES.items():
        checked = check_document(doc)
        assert checked.entry.condition and checked.exit.condition, name


def test_a_negative_lag_is_refused_at_its_column_with_the_fix() -> None:
    (error,) = errors_of(document(entry="close[-1] > open"))
    assert error["code"] == "lookahead"
    assert error["field"] == "entry"
    assert error["message"] == "lags look back only: use close[1]"
    assert error["span"] == {"line": 1, "column": 7, "end_column": 9}


def test_each_rule_reports_its_own_first_error() -> None:
    found = errors_of(document(entry="clse > 1", exit="sma(close) > 1", stop_loss="pct(1.5)"))
    assert [(e["field"], e["code"]) for e in found] == [
        ("entry", "unknown_name"),
        ("exit", "arguments"),
        ("stop_loss", "stop"),
    ]
    assert found[0]["hint"] == "did you mean 'close'?"
    assert found[0]["span"] == {"line": 1, "column": 1, "end_column": 5}


@pytest.mark.parametrize(
    ("entry", "code", "column"),
    [
        ("a < b < c", "syntax", 7),
        ("close > ", "syntax", 9),
        ("close $ 1", "syntax", 7),
        ("close + 1", "type", 1),  # a number where a condition is needed
        ("close > 1 and 2", "type", 15),
        ("fast[1] > 2", "type", 1),  # a parameter has no history
        ("sma(close, k) > 1", "window", 12),  # a float window
        ("sma(close, 0) > 1", "window", 12),
        ("sma(3, fast) > 1", "type", 5),  # an indicator needs a series
        ("foo(close) > 1", "unknown_function", 1),
        ("close > pct(0.1)", "stop_function", 9),
        ("close[2.5] > 1", "bad_lag", 7),
        ("close > 1e999", "number", 9),
        ("sma > 1", "type", 1),
    ],
)
def test_refusals_point_at_the_cause(entry: str, code: str, column: int) -> None:
    (error,) = errors_of(document(entry=entry))
    assert (error["code"], error["span"]["column"]) == (code, column), error
    assert error["field"] == "entry" and error["message"]


def test_errors_on_later_lines_carry_their_line() -> None:
    (error,) = errors_of(document(exit="close > 1\n  and clse < 2"))
    assert error["span"] == {"line": 2, "column": 7, "end_column": 11}


def test_constraints_read_parameters_only() -> None:
    (error,) = errors_of(document(constraints=["close > fast"]))
    assert (error["code"], error["field"]) == ("constraint", "constraints.0")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"close": {"type": "int", "min": 1, "max": 2, "default": 1}}, "param_name"),
        ({"Fast": {"type": "int", "min": 1, "max": 2, "default": 1}}, "param_name"),
        ({"x": {"type": "int", "min": 1, "max": 2, "default": 3}}, "param"),
        ({"x": {"type": "int", "min": 1.5, "max": 2, "default": 2}}, "param"),
        ({"x": {"type": "bool", "min": 0, "max": 1, "default": 1}}, "param"),
        ({"x": {"type": "float", "min": 0, "max": True, "default": 0}}, "param"),
        ({f"p{i}": {"type": "int", "min": 1, "max": 2, "default": 1} for i in range(13)}, "params"),
    ],
)
def test_bad_parameter_declarations(params: dict[str, Any], code: str) -> None:
    found = errors_of(document(params=params, constraints=[], entry="true", exit="false"))
    assert found[0]["code"] == code, found


def test_a_window_parameter_must_be_bounded_like_a_window() -> None:
    params = {"w": {"type": "int", "min": 0, "max": 20, "default": 5}}
    found = errors_of(
        document(params=params, constraints=[], entry="sma(close, w) > 1", exit="false")
    )
    (error,) = found
    assert error["code"] == "window" and error["span"]["column"] == 12


def test_unknown_keys_and_the_language_tag() -> None:
    found = errors_of(document(language="pine/5", extra=1))
    assert {e["code"] for e in found} == {"document", "language"}


def test_stops() -> None:
    checked = check_document(document(stop_loss="pct(0.05)", take_profit="atr_mult(14, k)"))
    assert checked.stop_loss is not None and checked.stop_loss.kind == "pct"
    assert checked.take_profit is not None and checked.take_profit.atr is not None
    (error,) = errors_of(document(stop_loss="pct(close)"))
    assert error["code"] == "stop"


def test_limits_are_checked_before_the_work_and_answer_fast() -> None:
    started = time.perf_counter()
    (error,) = errors_of(document(entry="1 < " + "1+" * MAX_SOURCE_CHARS + "1"))
    assert error["code"] == "too_long"
    (error,) = errors_of(document(entry="not " * (MAX_DEPTH + 5) + "true"))
    assert error["code"] == "too_deep"
    # Parentheses alone add no depth: these are fine; an unclosed one is a syntax error.
    check_document(document(entry="(" * 900 + "true" + ")" * 900))
    (error,) = errors_of(document(entry="(" * 1500 + "true"))
    assert error["code"] == "syntax"
    (error,) = errors_of(document(entry=" or ".join(["close > 1"] * 150)))
    assert error["code"] in ("too_many_nodes", "too_deep")
    assert time.perf_counter() - started < 1.0


def test_canonical_form_and_shape() -> None:
    one = check_document(document(entry="close > sma(close, fast) and volume > 0"))
    two = check_document(document(entry="0 < volume and sma(close, fast) < close"))
    assert one.canonical["entry"] == two.canonical["entry"]
    renamed = document(
        params={
            "a": {"type": "int", "min": 2, "max": 50, "default": 10},
            "b": {"type": "int", "min": 5, "max": 200, "default": 30},
            "m": {"type": "float", "min": 0.5, "max": 3.0, "default": 2.0},
        },
        constraints=["a < b"],
        entry="crosses_above(ema(close, a), ema(close, b))",
        exit="close < sma(close, b) - m * stdev(close, b)",
    )
    assert check_document(renamed).shape_hash == check_document(document()).shape_hash
    other = check_document(document(exit="close > sma(close, slow)"))
    assert other.shape_hash != check_document(document()).shape_hash
    assert Span(1, 1, 2) == Span(1, 1, 2)
