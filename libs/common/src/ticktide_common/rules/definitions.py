"""A checked language strategy as the catalogue's `StrategyDefinition`, so that
grids over it are counted, checked and expanded by the same code as the
built-ins' (`ticktide_common.backtests.grid`): its parameters become a pydantic
model (type, bounds, default), its constraints the definition's feasibility."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, create_model

from ticktide_common.backtests.catalogue import StrategyDefinition, StrategyParams

from .document import CheckedStrategy
from .scalars import scalar_value

__all__ = ["LanguageDefinition", "language_definition"]


@dataclass(frozen=True)
class LanguageDefinition(StrategyDefinition):
    checked: CheckedStrategy | None = None

    def feasible(self, params: Any) -> Any:
        assert self.checked is not None
        values = {name: getattr(params, name) for name in self.checked.params}
        return all(scalar_value(c, values) != 0.0 for c in self.checked.constraints)


def language_definition(name: str, checked: CheckedStrategy) -> LanguageDefinition:
    fields: dict[str, Any] = {}
    for param, spec in checked.params.items():
        kind: type = int if spec.integer else float
        fields[param] = (kind, Field(spec.default, ge=spec.low, le=spec.high))
    model = create_model(  # type: ignore[call-overload]
        "LanguageParams",
        __base__=StrategyParams,
        **fields,
    )
    return LanguageDefinition(
        name, f"A strategy in the rule language: {name}", model, checked=checked
    )
