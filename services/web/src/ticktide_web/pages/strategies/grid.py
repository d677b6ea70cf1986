""" "Run a grid" of a saved strategy version: its declared parameters as the
backtest form's parameter fields (the same grid syntax: `10`, `5,10,15`,
`5:50:5`), the form's defaults, and the form read into a batch request with
`"strategy": {"id", "version"}`. The reading is the backtest form's own
(`pages.backtests.form.read_form`), so both forms check exactly the same way;
the costs not on this form are the backtest form's defaults. Pure."""

from __future__ import annotations

from typing import Any

from ticktide_web.grid_syntax import ParamSpec, param_specs
from ticktide_web.pages.backtests.form import default_values, read_form

__all__ = ["GRID_FIELDS", "grid_defaults", "grid_schema", "grid_specs", "read_grid"]

# The form's own fields besides one per parameter (`p_<name>`).
GRID_FIELDS = ("symbols", "interval", "start", "end")
_KEY = "saved"  # the one entry of the strategies mapping read_form is given


def grid_schema(params: Any) -> dict[str, Any]:
    """A language document's `params` as the JSON Schema the backtest form reads."""
    properties: dict[str, Any] = {}
    for name, spec in (params or {}).items() if isinstance(params, dict) else ():
        if not isinstance(spec, dict):
            continue
        properties[name] = {
            "type": "integer" if spec.get("type") == "int" else "number",
            "minimum": spec.get("min"),
            "maximum": spec.get("max"),
            "default": spec.get("default"),
        }
    return {"properties": properties}


def grid_specs(params: Any) -> list[ParamSpec]:
    return param_specs(grid_schema(params))


def grid_defaults(params: Any, symbols: list[dict[str, Any]]) -> dict[str, str]:
    """The form as it first shows: the first stored pair, its stored range, 1h,
    each parameter's default."""
    return default_values({_KEY: {"parameters": grid_schema(params)}}, symbols, _KEY)


def read_grid(
    typed: dict[str, str], params: Any, symbols: list[dict[str, Any]], ident: int, version: int
) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, str]]:
    """(the batch request or None, its errors by field, the form's values as typed)."""
    values = grid_defaults(params, symbols)
    for key in GRID_FIELDS:
        if key in typed:
            values[key] = typed[key]
    for spec in grid_specs(params):
        if f"p_{spec.name}" in typed:
            values[f"p_{spec.name}"] = typed[f"p_{spec.name}"]
    body, errors = read_form(values, {_KEY: {"parameters": grid_schema(params)}})
    if body is not None:
        body["strategy"] = {"id": ident, "version": version}
    return body, errors, values
