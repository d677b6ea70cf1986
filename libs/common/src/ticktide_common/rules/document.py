"""A whole strategy document: its keys, its parameters, its constraints and
rules, checked together; every problem found is reported (each rule's first
one), each naming its key (`field`).

The checked strategy carries the canonical form that is stored with each saved
version, and the shape hash of its rules (equal for two documents that differ
only in numbers and parameter names: they run in one compiled kernel).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import ir
from .checker import FUNCTIONS, STOP_FUNCTIONS, ParamSpec, StopRule, check_expression, check_stop
from .errors import RuleError, RuleErrors
from .limits import (
    LANGUAGE,
    MAX_CONSTRAINTS,
    MAX_DOCUMENT_CHARS,
    MAX_INDICATOR_CALLS,
    MAX_NAME_CHARS,
    MAX_PARAMS,
)
from .parser import parse_expression

__all__ = ["CheckedStrategy", "check_document", "indicator_calls"]

KEYS = ("language", "params", "constraints", "entry", "exit", "stop_loss", "take_profit")
RESERVED = frozenset({*ir.BARS, *FUNCTIONS, *STOP_FUNCTIONS, "and", "or", "not", "true", "false"})
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


@dataclass(frozen=True)
class CheckedStrategy:
    params: Mapping[str, ParamSpec]
    constraints: tuple[ir.Expr, ...]
    entry: ir.Expr
    exit: ir.Expr
    stop_loss: StopRule | None
    take_profit: StopRule | None

    @property
    def canonical(self) -> dict[str, Any]:
        """The document in canonical form: what two equal strategies share."""

        def stop(rule: StopRule | None) -> str | None:
            if rule is None:
                return None
            if rule.kind == "pct":
                return f"pct({ir.render(rule.amount)})"
            assert rule.atr is not None
            return f"atr_mult({ir.render(rule.atr.window)}, {ir.render(rule.amount)})"

        return {
            "language": LANGUAGE,
            "params": {
                name: {
                    "type": "int" if spec.integer else "float",
                    "min": spec.low,
                    "max": spec.high,
                    "default": spec.default,
                }  # fmt: skip
                for name, spec in sorted(self.params.items())
            },
            "constraints": sorted(ir.render(c) for c in self.constraints),
            "entry": ir.render(self.entry),
            "exit": ir.render(self.exit),
            "stop_loss": stop(self.stop_loss),
            "take_profit": stop(self.take_profit),
        }

    @property
    def shape_hash(self) -> str:
        """What the compiled kernel depends on: the rules' shapes and which stops exist."""
        shape = {
            "entry": ir.shape_text(self.entry),
            "exit": ir.shape_text(self.exit),
            "stop_loss": self.stop_loss.kind if self.stop_loss else None,
            "take_profit": self.take_profit.kind if self.take_profit else None,
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:32]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _check_params(raw: Any, errors: list[RuleError]) -> dict[str, ParamSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(RuleError("params", "params is an object of parameters", "params"))
        return {}
    if len(raw) > MAX_PARAMS:
        errors.append(RuleError("params", f"at most {MAX_PARAMS} parameters", "params"))
        return {}
    found: dict[str, ParamSpec] = {}
    for name, spec in raw.items():
        where = f"params.{name}"[:80]
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _NAME.match(name):
            errors.append(RuleError(
                "param_name", f"a parameter's name is lower-case letters, digits and _, at most {MAX_NAME_CHARS} characters",  # noqa: E501
                where, hint="e.g. fast",
            ))  # fmt: skip
            continue
        if name in RESERVED:
            errors.append(
                RuleError(
                    "param_name",
                    f"{name!r} is a word of the language",
                    where,
                    hint="pick another name",
                )
            )  # noqa: E501
            continue
        if (
            not isinstance(spec, dict)
            or spec.get("type") not in ("int", "float")
            or set(spec) - {"type", "min", "max", "default"}
        ):  # noqa: E501
            errors.append(RuleError(
                "param", f"parameter {name!r} is {{\"type\": \"int\"|\"float\", \"min\", \"max\", \"default\"}}", where,  # noqa: E501
            ))  # fmt: skip
            continue
        integer = spec["type"] == "int"
        low, high, default = (_number(spec.get(key)) for key in ("min", "max", "default"))
        if low is None or high is None or default is None:
            errors.append(
                RuleError("param", f"parameter {name!r} needs numbers min, max and default", where)
            )  # noqa: E501
            continue
        if integer and not all(v == int(v) for v in (low, high, default)):
            errors.append(RuleError("param", f"int parameter {name!r} needs whole numbers", where))
            continue
        if not low <= default <= high:
            errors.append(
                RuleError("param", f"parameter {name!r} needs min <= default <= max", where)
            )  # noqa: E501
            continue
        if integer:
            low, high, default = int(low), int(high), int(default)
        found[name] = ParamSpec(name, integer, low, high, default)
    return found


def _expression_errors(exc: RuleErrors, field: str) -> list[RuleError]:
    return [error.at(field) for error in exc.errors]


def indicator_calls(*exprs: ir.Expr | None) -> set[ir.Indicator]:
    """The distinct indicator calls in `exprs` (an indicator's source included)."""
    found: set[ir.Indicator] = set()
    pending = [e for e in exprs if e is not None]
    while pending:
        expr = pending.pop()
        if isinstance(expr, ir.Indicator):
            found.add(expr)
        for value in vars(expr).values():
            if isinstance(value, ir.Expr):
                pending.append(value)
    return found


def check_document(document: Any) -> CheckedStrategy:
    """The checked strategy of `document`, or RuleErrors listing what is wrong."""
    errors: list[RuleError] = []
    if not isinstance(document, dict):
        raise RuleErrors([RuleError("document", "a strategy document is a JSON object")])
    size = len(json.dumps(document, default=str))
    if size > MAX_DOCUMENT_CHARS:
        raise RuleErrors(
            [RuleError("too_long", f"a document is at most {MAX_DOCUMENT_CHARS} characters")]
        )  # noqa: E501
    unknown = sorted(str(key) for key in document if key not in KEYS)
    if unknown:
        errors.append(
            RuleError(
                "document",
                f"unknown key(s) {', '.join(unknown)}",
                unknown[0],
                hint=f"the keys are {', '.join(KEYS)}",
            )
        )  # noqa: E501
    if document.get("language") != LANGUAGE:
        errors.append(RuleError("language", f"language must be {LANGUAGE!r}", "language"))
    params = _check_params(document.get("params"), errors)

    def expression(field: str, want: str) -> ir.Expr | None:
        text = document.get(field)
        if not isinstance(text, str):
            errors.append(RuleError("missing", f"{field} is an expression (a string)", field))
            return None
        try:
            return check_expression(parse_expression(text), params, want=want)
        except RuleErrors as exc:
            errors.extend(_expression_errors(exc, field))
            return None

    constraints: list[ir.Expr] = []
    raw_constraints = document.get("constraints", [])
    if not isinstance(raw_constraints, list) or len(raw_constraints) > MAX_CONSTRAINTS:
        errors.append(
            RuleError(
                "constraints",
                f"constraints is a list of at most {MAX_CONSTRAINTS} conditions",
                "constraints",
            )
        )  # noqa: E501
        raw_constraints = []
    for index, text in enumerate(raw_constraints):
        field = f"constraints.{index}"
        if not isinstance(text, str):
            errors.append(
                RuleError("constraints", "a constraint is an expression (a string)", field)
            )  # noqa: E501
            continue
        try:
            checked = check_expression(parse_expression(text), params, want="condition")
        except RuleErrors as exc:
            errors.extend(_expression_errors(exc, field))
            continue
        if not checked.scalar:
            errors.append(
                RuleError(
                    "constraint",
                    "a constraint reads parameters only, never bars",
                    field,
                    hint="e.g. fast < slow",
                )
            )  # noqa: E501
            continue
        constraints.append(checked)
    entry = expression("entry", "condition")
    exit_ = expression("exit", "condition")
    stops: dict[str, StopRule | None] = {"stop_loss": None, "take_profit": None}
    for field in stops:
        text = document.get(field)
        if text is None:
            continue
        if not isinstance(text, str):
            errors.append(RuleError("stop", f"{field} is an expression (a string)", field))
            continue
        try:
            stops[field] = check_stop(parse_expression(text), params)
        except RuleErrors as exc:
            errors.extend(_expression_errors(exc, field))
    if not errors:
        atrs = [rule.atr for rule in stops.values() if rule is not None and rule.atr is not None]
        calls = indicator_calls(entry, exit_, *atrs)
        if len(calls) > MAX_INDICATOR_CALLS:
            errors.append(
                RuleError(
                    "too_many_indicators",
                    f"at most {MAX_INDICATOR_CALLS} distinct indicator calls "
                    f"(this document has {len(calls)})",
                    "entry",
                )
            )  # noqa: E501
    if errors:
        raise RuleErrors(errors)
    assert entry is not None and exit_ is not None
    return CheckedStrategy(
        params, tuple(constraints), entry, exit_, stops["stop_loss"], stops["take_profit"]
    )  # noqa: E501
