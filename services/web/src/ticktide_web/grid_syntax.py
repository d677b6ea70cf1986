"""The backtest form's grid syntax, parsed on the server for the no-JavaScript
path (static/js/backtest_grid.js mirrors it for the live path). Pure: no I/O.

A parameter field holds one number `10`, a list `5,10,15`, a range
`start:stop:step` (`5:50:5`; the stop is included when a step lands on it),
or a list mixing both (`2,5:20:5`). Every value is checked against the
parameter's JSON Schema (integer or number, minimum/maximum, exclusive
bounds); each problem is a `GridSyntaxError` whose message says what to type
instead, and the form shows it beside the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_VALUES",
    "GridSyntaxError",
    "ParamSpec",
    "param_specs",
    "parse_values",
    "parse_symbols",
    "format_values",
    "compact_values",
    "combinations",
]

MAX_VALUES = 1000  # values of one parameter; the API bounds the whole grid itself
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_EPSILON = 1e-9
_SYNTAX_HINT = "a number (10), a list (5,10,15) or a range start:stop:step (5:50:5)"

Number = int | float


class GridSyntaxError(ValueError):
    """A field's text that is not a valid value, list or range; the message says why."""


@dataclass(frozen=True)
class ParamSpec:
    """One strategy parameter as its JSON Schema describes it."""

    name: str
    integer: bool
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    default: Any = None
    description: str = ""

    @classmethod
    def from_schema(cls, name: str, schema: Mapping[str, Any]) -> ParamSpec:
        kind = schema.get("type")
        if kind is None:  # `anyOf` of several types: the first numeric one decides
            kinds = [s.get("type") for s in schema.get("anyOf", []) if isinstance(s, Mapping)]
            kind = "integer" if "integer" in kinds and "number" not in kinds else "number"
        return cls(
            name=name,
            integer=kind == "integer",
            minimum=_bound(schema.get("minimum")),
            maximum=_bound(schema.get("maximum")),
            exclusive_minimum=_bound(schema.get("exclusiveMinimum")),
            exclusive_maximum=_bound(schema.get("exclusiveMaximum")),
            default=schema.get("default"),
            description=str(schema.get("description") or ""),
        )

    @property
    def default_text(self) -> str:
        return "" if self.default is None else format_values([self.default])

    def bounds_text(self) -> str:
        """`whole number, 1 to 5000` / `number, above 0 up to 10`."""
        parts = ["whole number" if self.integer else "number"]
        low = high = ""
        if self.minimum is not None:
            low = f"from {_show(self.minimum)}"
        elif self.exclusive_minimum is not None:
            low = f"above {_show(self.exclusive_minimum)}"
        if self.maximum is not None:
            high = f"up to {_show(self.maximum)}"
        elif self.exclusive_maximum is not None:
            high = f"below {_show(self.exclusive_maximum)}"
        if low or high:
            parts.append(" ".join(p for p in (low, high) if p))
        return ", ".join(parts)

    def help_text(self) -> str:
        """The field's help: what it is, its bounds and default, and the syntax."""
        bounds = self.bounds_text()
        if self.description:
            text = f"{self.description[:1].upper()}{self.description[1:]}. "
            text += bounds[:1].upper() + bounds[1:]
        else:
            text = bounds
        if self.default is not None:
            text += f"; default {self.default_text}"
        return (
            f"{text}. Type a number (10), a list (5,10,15) or a range start:stop:step "
            "(5:50:5; the stop is included)."
        )

    def check(self, value: Number) -> Number:
        """`value` as this parameter takes it (an int for an integer), or an error."""
        if self.integer:
            if not float(value).is_integer():
                raise GridSyntaxError(f"{self.name} takes whole numbers; {_show(value)} is not one")
            value = int(value)
        limits = (
            (self.minimum, lambda b: value < b, "at least"),
            (self.maximum, lambda b: value > b, "at most"),
            (self.exclusive_minimum, lambda b: value <= b, "greater than"),
            (self.exclusive_maximum, lambda b: value >= b, "less than"),
        )
        for bound, broken, words in limits:
            if bound is not None and broken(bound):
                raise GridSyntaxError(
                    f"{self.name} must be {words} {_show(bound)}; got {_show(value)}"
                )
        return value


def _bound(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _show(value: float) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def param_specs(schema: Mapping[str, Any]) -> list[ParamSpec]:
    """A strategy's parameters in schema order (`parameters` of GET .../strategies)."""
    properties = schema.get("properties") or {}
    return [
        ParamSpec.from_schema(name, prop)
        for name, prop in properties.items()
        if isinstance(prop, Mapping)
    ]


def _number(text: str, field: str) -> Number:
    token = text.strip()
    if not _NUMBER.match(token):
        raise GridSyntaxError(f"{field}: {token!r} is not a number; type {_SYNTAX_HINT}")
    if _INTEGER.match(token):
        return int(token)
    value = float(token)
    if not math.isfinite(value):
        raise GridSyntaxError(f"{field}: {token!r} is too large")
    return value


def _range(item: str, field: str, room: int) -> list[Number]:
    parts = item.split(":")
    if len(parts) != 3:
        raise GridSyntaxError(
            f"{field}: {item!r} is not a range; a range is start:stop:step, e.g. 5:50:5"
        )
    start, stop, step = (_number(p, field) for p in parts)
    if step <= 0:
        raise GridSyntaxError(f"{field}: the step of {item!r} must be positive")
    if stop < start:
        raise GridSyntaxError(f"{field}: in {item!r} the stop {_show(stop)} is below the start")
    count = math.floor((stop - start) / step + _EPSILON) + 1
    if count > room:
        raise GridSyntaxError(
            f"{field}: {item!r} gives {count} values; at most {MAX_VALUES} per parameter"
        )
    if all(isinstance(v, int) for v in (start, stop, step)):
        return [int(start) + i * int(step) for i in range(count)]
    return [_tidy(start + i * step) for i in range(count)]


def _tidy(value: float) -> Number:
    """0.1 + 2 × 0.1 → 0.3, not 0.30000000000000004."""
    rounded = round(value, 10)
    return 0.0 if rounded == 0 else rounded


def parse_values(
    text: str, spec: ParamSpec | None = None, *, field: str = "", max_values: int = MAX_VALUES
) -> list[Number]:
    """The values a field's text stands for, in order, without repeats."""
    name = field or (spec.name if spec else "value")
    raw = (text or "").strip()
    if not raw:
        raise GridSyntaxError(f"{name}: enter {_SYNTAX_HINT}")
    values: list[Number] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise GridSyntaxError(f"{name}: a list needs a value between every two commas")
        room = max_values - len(values)
        found = _range(item, name, max(room, 0)) if ":" in item else [_number(item, name)]
        for value in found:
            checked = spec.check(value) if spec else value
            if checked not in values:
                values.append(checked)
        if len(values) > max_values:
            raise GridSyntaxError(f"{name}: more than {max_values} values; at most {max_values}")
    return values


def format_values(values: list[Any]) -> str:
    """The field text of a list of values (`[5, 10]` → `5,10`)."""
    return ",".join(
        _show(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
        for v in values
    )


def compact_values(values: list[Any]) -> str:
    """Field text that parses back to `values`: an evenly spaced run of three or
    more rising numbers as its range (`[5, 10, 15]` → `5:15:5`), else the list."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(values) < 3 or len(numbers) != len(values):
        return format_values(values)
    step = _tidy(numbers[1] - numbers[0])
    if step <= 0 or any(
        abs((b - a) - step) > _EPSILON * max(1.0, abs(step))
        for a, b in zip(numbers, numbers[1:], strict=False)
    ):
        return format_values(values)
    text = f"{_show(numbers[0])}:{_show(numbers[-1])}:{_show(step)}"
    try:
        same = parse_values(text, max_values=len(values)) == list(values)
    except GridSyntaxError:
        same = False
    return text if same else format_values(values)


def parse_symbols(text: str, *, limit: int = 20) -> list[str]:
    """`btcusdt, ETHUSDT` → `["BTCUSDT", "ETHUSDT"]` (commas or spaces between)."""
    found: list[str] = []
    for token in re.split(r"[\s,]+", (text or "").strip().upper()):
        if not token:
            continue
        if not _SYMBOL.match(token):
            raise GridSyntaxError(f"{token!r} is not a trading pair like BTCUSDT")
        if token not in found:
            found.append(token)
    if not found:
        raise GridSyntaxError("enter a trading pair, e.g. BTCUSDT (several: BTCUSDT,ETHUSDT)")
    if len(found) > limit:
        raise GridSyntaxError(f"at most {limit} symbols in one batch; got {len(found)}")
    return found


def combinations(grid: Mapping[str, list[Any]]) -> int:
    """Parameter sets of a grid before the strategy drops infeasible ones (fast ≥ slow)."""
    return math.prod(len(v) for v in grid.values()) if grid else 1
