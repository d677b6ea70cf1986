"""The backtest form as text: its defaults, a stored batch's request as form
values, the form read into a batch request (every field checked, errors keyed
by field name; static/js/backtest_form.js mirrors it), and the API's rejections
mapped back onto the fields. Pure."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ticktide_web.api import ApiError
from ticktide_web.grid_syntax import (
    GridSyntaxError,
    ParamSpec,
    combinations,
    compact_values,
    format_values,
    param_specs,
    parse_symbols,
    parse_values,
)
from ticktide_web.pages.backtests.views import INTERVALS, RANK_BY

_DEFAULTS = {"fee": "0.001", "slippage_bps": "0", "initial_cash": "10000", "rank_by": "sharpe"}


def _stored_range(symbols: list[dict[str, Any]], symbol: str, interval: str) -> tuple[str, str]:
    """(first day, day after the last) of a stored series, for the date fields."""
    for entry in symbols:
        if entry.get("symbol") == symbol:
            info = (entry.get("intervals") or {}).get(interval)
            if info and info.get("first") and info.get("last"):
                first = _day(info["first"])
                last = _day(info["last"])
                if first and last:
                    return first.isoformat(), (last + timedelta(days=1)).isoformat()
    today = datetime.now(UTC).date()
    return (today - timedelta(days=90)).isoformat(), today.isoformat()


def stored_text(symbols: list[dict[str, Any]], symbol: str, interval: str) -> str:
    """`Stored BTCUSDT 1h: 2024-01-01 to 2024-02-29 (1,440 candles).`"""
    for entry in symbols:
        if entry.get("symbol") == symbol:
            info = (entry.get("intervals") or {}).get(interval)
            if not info:
                return f"Nothing stored for {symbol} {interval} yet."
            first, last = _day(info.get("first") or ""), _day(info.get("last") or "")
            return (
                f"Stored {symbol} {interval}: {first} to {last} "
                f"({int(info.get('candles') or 0):,} candles)."
            )
    return ""


def _day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def default_values(
    strategies: dict[str, Any], symbols: list[dict[str, Any]], strategy: str | None = None
) -> dict[str, str]:
    name = (
        strategy if strategy in strategies else ("sma_cross" if "sma_cross" in strategies else "")
    )
    name = name or next(iter(strategies), "")
    stored = [s for s in symbols if s.get("intervals")]
    symbol = str((stored or symbols or [{"symbol": "BTCUSDT"}])[0].get("symbol", "BTCUSDT"))
    start, end = _stored_range(symbols, symbol, "1h")
    values = {"strategy": name, "symbols": symbol, "interval": "1h", "start": start, "end": end}
    values.update(_DEFAULTS)
    values.update(train_bars="", test_bars="")
    for spec in param_specs((strategies.get(name) or {}).get("parameters") or {}):
        values[f"p_{spec.name}"] = spec.default_text
    return values


def values_from_request(request: dict[str, Any], base: dict[str, str]) -> dict[str, str]:
    """The form's text for a stored batch request ("Use these settings")."""
    values = dict(base)
    values["strategy"] = str(request.get("strategy") or base["strategy"])
    values["symbols"] = ",".join(request.get("symbols") or [])
    values["interval"] = str((request.get("intervals") or ["1h"])[0])
    for key in ("start", "end"):
        day = _day(str(request.get(key) or ""))
        if day:
            values[key] = day.isoformat()
    for key in ("fee", "slippage_bps", "initial_cash"):
        if request.get(key) is not None:
            values[key] = format_values([request[key]])
    values["rank_by"] = str(request.get("rank_by") or "sharpe")
    walk = request.get("walk_forward") or {}
    values["train_bars"] = str(walk.get("train_bars") or "")
    values["test_bars"] = str(walk.get("test_bars") or "")
    for name, grid_value in (request.get("grid") or {}).items():
        text = compact_values(grid_value) if isinstance(grid_value, list) else str(grid_value)
        values[f"p_{name}"] = text
    return values


def _number(text: str, label: str, *, low: float, high: float | None, low_open: bool) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise GridSyntaxError(f"{label} must be a number") from None
    if not math.isfinite(value) or (value <= low if low_open else value < low):
        raise GridSyntaxError(f"{label} must be {'above' if low_open else 'at least'} {low:g}")
    if high is not None and value > high:
        raise GridSyntaxError(f"{label} must be at most {high:g}")
    return value


def _whole(text: str, label: str, low: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < low:
        raise GridSyntaxError(f"{label} must be a whole number of at least {low}")
    return int(text)


def read_form(
    values: dict[str, str], strategies: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The batch request of the form's text, or the errors keyed by field name."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}

    def attempt(name: str, read: Any) -> Any:
        try:
            return read()
        except GridSyntaxError as exc:
            errors[name] = str(exc)
            return None

    strategy = values.get("strategy", "")
    if strategy not in strategies:
        errors["strategy"] = "Choose one of the strategies."
        specs: list[ParamSpec] = []
    else:
        specs = param_specs(strategies[strategy].get("parameters") or {})
    body["strategy"] = strategy
    body["symbols"] = attempt("symbols", lambda: parse_symbols(values.get("symbols", "")))
    interval = values.get("interval", "")
    if interval not in INTERVALS:
        errors["interval"] = f"Choose one of {', '.join(INTERVALS)}."
    body["intervals"] = [interval]
    start = attempt("start", lambda: _date(values.get("start", ""), "Start"))
    end = attempt("end", lambda: _date(values.get("end", ""), "End"))
    if start and end and end <= start:
        errors["end"] = "End must be after Start (Start is included, End is not)."
    body["start"] = f"{start}T00:00:00Z" if start else None
    body["end"] = f"{end}T00:00:00Z" if end else None
    body["fee"] = attempt(
        "fee",
        lambda: _number(values.get("fee", ""), "Fee", low=0, high=0.499999, low_open=False),
    )
    body["slippage_bps"] = attempt(
        "slippage_bps",
        lambda: _number(
            values.get("slippage_bps", ""), "Slippage (bps)", low=0, high=1000, low_open=False
        ),
    )
    body["initial_cash"] = attempt(
        "initial_cash",
        lambda: _number(
            values.get("initial_cash", ""), "Initial cash", low=0, high=None, low_open=True
        ),
    )
    rank_by = values.get("rank_by", "sharpe")
    if rank_by not in RANK_BY:
        errors["rank_by"] = "Choose one of the metrics."
    body["rank_by"] = rank_by
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        found = attempt(
            f"p_{spec.name}", lambda s=spec: parse_values(values.get(f"p_{s.name}", ""), s)
        )
        if found is not None:
            grid[spec.name] = found
    body["grid"] = grid
    train = attempt("train_bars", lambda: _whole(values.get("train_bars", ""), "Train bars", 2))
    test = attempt("test_bars", lambda: _whole(values.get("test_bars", ""), "Test bars", 1))
    if (
        (train is None) != (test is None)
        and "train_bars" not in errors
        and "test_bars" not in errors
    ):
        missing = "test_bars" if test is None else "train_bars"
        errors[missing] = "Walk-forward needs both Train bars and Test bars (or neither)."
    body["walk_forward"] = (
        {"train_bars": train, "test_bars": test} if train is not None and test is not None else None
    )
    return (None if errors else body), errors


def _date(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise GridSyntaxError(f"{label} must be a date (YYYY-MM-DD)") from None


_PARAMETER = re.compile(r"parameter '([A-Za-z_][A-Za-z0-9_]*)'")


def api_field_errors(error: ApiError, param_names: set[str]) -> dict[str, str]:
    """The fields an API rejection is about, for the message beside each."""
    found: dict[str, str] = {}
    names = {
        "symbols": "symbols",
        "intervals": "interval",
        "start": "start",
        "end": "end",
        "fee": "fee",
        "slippage_bps": "slippage_bps",
        "initial_cash": "initial_cash",
        "rank_by": "rank_by",
        "train_bars": "train_bars",
        "test_bars": "test_bars",
        "strategy": "strategy",
    }
    for item in error.errors:
        where = item.get("field", "")
        inner = where.split("'")[1] if "'" in where else where
        parts = [p for p in inner.split(".") if not p.isdigit()]
        for part in reversed(parts):
            if part in names:
                found.setdefault(names[part], item.get("message", error.message))
                break
            if part in param_names:
                found.setdefault(f"p_{part}", item.get("message", error.message))
                break
    message = error.message
    if error.status == 404 and "symbol" in message:
        found.setdefault("symbols", message)
    for match in _PARAMETER.finditer(message):
        if match.group(1) in param_names:
            found.setdefault(f"p_{match.group(1)}", message)
    if "walk_forward.train_bars" in message:
        found.setdefault("train_bars", message)
    if "rank_by" in message and not error.errors:
        found.setdefault("rank_by", message)
    if message.startswith("no candles stored"):
        found.setdefault("start", message)
    if message.startswith("end must be after start"):
        found.setdefault("end", message)
    return found


def param_fields(strategies: dict[str, Any]) -> dict[str, list[ParamSpec]]:
    return {name: param_specs(s.get("parameters") or {}) for name, s in strategies.items()}


def grid_size(specs: list[ParamSpec], values: dict[str, str]) -> int | None:
    """Parameter sets the form's grid stands for (None while a field is invalid)."""
    grid = {}
    for spec in specs:
        try:
            grid[spec.name] = parse_values(values.get(f"p_{spec.name}", ""), spec)
        except GridSyntaxError:
            return None
    return combinations(grid)
