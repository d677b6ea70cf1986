"""A grammar-driven fuzzer of the rule language (hypothesis), on a bounded
budget: programs built from the grammar's pieces, mutated at random.

- Only typed errors with spans ever come out of the checker.
- Every accepted program compiles and runs on 1,000 bars within its time limit,
  and an audit hook (`sys.addaudithook`) sees no file opened, no socket, no
  subprocess and no import while it compiles and runs.
- Renaming its numbers and parameters (one-to-one) leaves the generated code
  unchanged.
- Truncating the bars leaves every earlier signal unchanged (no look-ahead).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ticktide_backtest_worker.engine import Bars
from ticktide_backtest_worker.engine.rules.codegen import signal_source
from ticktide_backtest_worker.engine.rules.kernel import kernel_for
from ticktide_backtest_worker.engine.rules.runner import (
    bar_rows_of,
    parameter_values,
    run_language_grid,
    signal_args,
    warm_up_language,
)
from ticktide_backtest_worker.engine.rules.series import SeriesStore
from ticktide_common.rules import LANGUAGE, CheckedStrategy, RuleErrors, check_document
from ticktide_common.rules.checker import FUNCTIONS, WINDOWED
from ticktide_common.rules.limits import COMPILE_SECONDS

PARAMS = {
    "fast": {"type": "int", "min": 2, "max": 40, "default": 5},
    "slow": {"type": "int", "min": 3, "max": 90, "default": 21},
    "k": {"type": "float", "min": 0.1, "max": 4.0, "default": 1.5},
}
SERIES = ("open", "high", "low", "close", "volume")

names = st.sampled_from([*SERIES, *PARAMS, "x", "sma", "closes", "true", "false"])
numbers = st.one_of(
    st.integers(0, 120).map(str),
    st.floats(0, 500, allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.4g}"),
)
windows = st.sampled_from(["fast", "slow", "k", "1", "3", "14", "0", "20000"])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = ["+", "-", "*", "/", "<", ">", "<=", ">=", "==", "!=", "and", "or"]
    return st.one_of(
        st.tuples(children, st.sampled_from(operators), children).map(" ".join),
        st.tuples(st.sampled_from(["-", "not "]), children).map("".join),
        children.map(lambda c: f"({c})"),
        st.tuples(children, st.integers(-2, 40)).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(
            st.sampled_from([*WINDOWED]), st.one_of(st.sampled_from(SERIES), children), windows
        ).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(
            st.sampled_from([*FUNCTIONS, "pct", "atr_mult", "nope"]), st.lists(children, max_size=3)
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


expressions = st.recursive(st.one_of(names, numbers), _extend, max_leaves=10)


@st.composite
def mutated(draw: st.DrawFn, source: st.SearchStrategy[str]) -> str:
    text = draw(source)
    if text and draw(st.integers(0, 4)) == 0:  # a typo: a character dropped or inserted
        at = draw(st.integers(0, len(text) - 1))
        if draw(st.booleans()):
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + draw(st.sampled_from(list("()[],.<>=!-+*/$ a1\n"))) + text[at:]
    return text


# Well-typed programs (most are accepted): numbers and conditions built apart.
scalars = st.one_of(numbers, st.sampled_from([*PARAMS]))
int_windows = st.sampled_from(["fast", "slow", "1", "2", "5", "14", "50"])


def _typed_numbers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from([*WINDOWED]), children, int_windows).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        children.map(lambda c: f"abs({c})"),
        st.tuples(st.sampled_from(SERIES), st.integers(0, 30)).map(lambda t: f"{t[0]}[{t[1]}]"),
        int_windows.map(lambda w: f"atr({w})"),
    )


typed_numbers = st.recursive(
    st.one_of(st.sampled_from(SERIES), scalars), _typed_numbers, max_leaves=6
)  # noqa: E501


def _typed_conditions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"not {c}"),
        st.tuples(children, st.integers(1, 5)).map(lambda t: f"({t[0]})[{t[1]}]"),
    )


comparisons = st.one_of(
    st.tuples(
        typed_numbers, st.sampled_from(["<", ">", "<=", ">=", "==", "!="]), typed_numbers
    ).map(  # noqa: E501
        " ".join
    ),
    st.tuples(
        st.sampled_from(["crosses_above", "crosses_below"]), typed_numbers, typed_numbers
    ).map(  # noqa: E501
        lambda t: f"{t[0]}({t[1]}, {t[2]})"
    ),
    st.sampled_from(["true", "false"]),
)
typed_conditions = st.recursive(comparisons, _typed_conditions, max_leaves=4)

conditions = st.one_of(
    typed_conditions,
    mutated(typed_conditions),
    mutated(expressions),
    st.tuples(expressions, st.sampled_from(["<", ">"]), expressions).map(" ".join),
    st.tuples(st.sampled_from(["crosses_above", "crosses_below"]), expressions, expressions).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})"
    ),
)


def document(entry: str, exit_: str) -> dict[str, Any]:
    return {"language": LANGUAGE, "params": PARAMS, "constraints": ["fast < slow"],
            "entry": entry, "exit": exit_}  # fmt: skip


def check_errors(errors: list[Any], doc: dict[str, Any]) -> None:
    for error in errors:
        assert error.code and error.message
        if error.span is not None:
            text = doc.get(error.field, "") if error.field in ("entry", "exit") else ""
            assert error.field in ("entry", "exit"), error
            lines = text.split("\n")
            assert 1 <= error.span.line <= len(lines)
            assert 1 <= error.span.column < error.span.end_column
            assert error.span.column <= len(lines[error.span.line - 1]) + 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions, conditions)
def test_only_typed_errors_with_spans_come_out(entry: str, exit_: str) -> None:
    doc = document(entry, exit_)
    started = time.perf_counter()
    try:
        check_document(doc)
    except RuleErrors as refused:
        check_errors(refused.errors, doc)
    assert time.perf_counter() - started < 0.5


def make_bars(n: int = 1000) -> Bars:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    return Bars(np.arange(n, dtype=np.int64) * 3600, open_, high, low, close, rng.uniform(1, 9, n))


BARS = make_bars()

FORBIDDEN = ("open", "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
             "os.fork", "import", "ctypes.dlopen", "os.remove", "os.rename", "shutil.")  # fmt: skip
_watching = threading.local()
_seen: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if getattr(_watching, "on", False) and event.startswith(FORBIDDEN):
        _seen.append(f"{event} {str(args)[:120]}")


sys.addaudithook(_audit)  # cannot be removed; off unless a test turns it on


@contextmanager
def audited() -> Iterator[list[str]]:
    _seen.clear()
    _watching.on = True
    try:
        yield _seen
    finally:
        _watching.on = False


def accepted(entry: str, exit_: str) -> CheckedStrategy:
    try:
        return check_document(document(entry, exit_))
    except RuleErrors:
        assume(False)
        raise


# Every indicator and the loop loaded once before any audited run (as a worker does
# at start): numba's own first use of the engine's code is not the program's.
warm_up_language()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # noqa: E501
@given(typed_conditions, typed_conditions)
def test_accepted_programs_compile_and_run_safely_within_their_limit(
    entry: str, exit_: str
) -> None:  # noqa: E501
    strategy = accepted(entry, exit_)
    with audited() as seen:
        started = time.perf_counter()
        (result,) = run_language_grid(
            BARS, strategy, [{}], fee=0.001, slippage_bps=1.0, initial_cash=1.0, interval="1h"
        )
        elapsed = time.perf_counter() - started
    assert seen == [], "\n".join(seen)
    assert elapsed < COMPILE_SECONDS
    assert np.isfinite(result.metrics["final_equity"])


_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def renamed(text: str) -> str:
    """Every parameter renamed and every number changed, one to one."""
    for old, new in (("fast", "p_quick"), ("slow", "p_lazy"), ("k", "p_width")):
        text = re.sub(rf"\b{old}\b", new, text)

    def change(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.isdigit():
            return str(int(word) + 1)
        return f"-{word}"  # negation: exact, so one to one even for the tiniest numbers

    return _NUMBER.sub(change, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(typed_conditions, typed_conditions)
def test_renaming_numbers_and_parameters_leaves_the_generated_code_unchanged(
    entry: str, exit_: str
) -> None:
    strategy = accepted(entry, exit_)
    params = {renamed(name): spec for name, spec in PARAMS.items()}
    doc = {**document(renamed(entry), renamed(exit_)), "params": params, "constraints": []}
    try:
        other = check_document(doc)
    except RuleErrors:
        assume(False)  # a renamed number left its range (a window, a lag)
        return
    assert (
        signal_source(other.entry, other.exit)[0] == signal_source(strategy.entry, strategy.exit)[0]
    )  # noqa: E501
    assert other.shape_hash == strategy.shape_hash


def signals(strategy: CheckedStrategy, bars: Bars) -> list[tuple[int, int]]:
    kernel, layout = kernel_for(strategy.entry, strategy.exit)
    args = signal_args(bar_rows_of(bars), SeriesStore(bars), layout, parameter_values(strategy, {}))  # noqa: E501
    return [(kernel.signal(args, t, False), kernel.signal(args, t, True)) for t in range(len(bars))]


def truncated(bars: Bars, m: int) -> Bars:
    return Bars(
        *(
            getattr(bars, name)[:m].copy()
            for name in ("times", "open", "high", "low", "close", "volume")
        )
    )  # noqa: E501


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # noqa: E501
@given(typed_conditions, typed_conditions, st.integers(1, 999))
def test_truncating_the_bars_leaves_earlier_signals_unchanged(
    entry: str, exit_: str, m: int
) -> None:  # noqa: E501
    strategy = accepted(entry, exit_)
    bars = make_bars(1000)
    assert signals(strategy, truncated(bars, m)) == signals(strategy, bars)[:m]
