"""The strategy routes' request bodies and answers, as pydantic models declared on
each route, so that `/api/openapi.json` documents every one, the 422s included.

A request's `document` is any JSON object to pydantic: the rule language checks
it (`service.check_strategy`) and every problem of it answers CONTRACT §2's 422
with codes and spans. Its JSON Schema in the document is the language's
(`DOCUMENT_SCHEMA`): what JSON Schema can say of it (keys, types, lengths); the
expressions themselves are a grammar it cannot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ticktide_common.rules import LANGUAGE
from ticktide_common.rules.limits import (
    MAX_CONSTRAINTS,
    MAX_NAME_CHARS,
    MAX_PARAMS,
    MAX_SOURCE_CHARS,
    MAX_STRATEGY_NAME_CHARS,
)
from ticktide_gateway.schemas import ResponseModel

__all__ = [
    "DOCUMENT_SCHEMA",
    "NAME_PATTERN",
    "ValidateRequest",
    "SaveRequest",
    "Validated",
    "Saved",
    "StrategyItem",
    "StrategyList",
    "StrategyDetail",
    "StrategyVersionBody",
    "Rejected",
]

_EXPRESSION: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_CHARS}
_PARAM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "min", "max", "default"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["int", "float"]},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "default": {"type": "number"},
    },
}
DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "StrategyDocument",
    "description": f"a strategy in the rule language {LANGUAGE}: every parameter is a grid "
    "axis; constraints read parameters only; entry and exit are conditions on bars; "
    "stops are pct(x) or atr_mult(window, k)",
    "required": ["language", "entry", "exit"],
    "additionalProperties": False,
    "properties": {
        "language": {"const": LANGUAGE},
        "params": {
            "type": ["object", "null"],
            "maxProperties": MAX_PARAMS,
            "propertyNames": {"pattern": "^[a-z_][a-z0-9_]*$", "maxLength": MAX_NAME_CHARS},
            "additionalProperties": _PARAM,
        },
        "constraints": {"type": "array", "maxItems": MAX_CONSTRAINTS, "items": _EXPRESSION},
        "entry": _EXPRESSION,
        "exit": _EXPRESSION,
        "stop_loss": {**_EXPRESSION, "type": ["string", "null"]},
        "take_profit": {**_EXPRESSION, "type": ["string", "null"]},
    },
    "examples": [
        {
            "language": LANGUAGE,
            "params": {
                "fast": {"type": "int", "min": 2, "max": 50, "default": 10},
                "slow": {"type": "int", "min": 10, "max": 200, "default": 30},
            },
            "constraints": ["fast < slow"],
            "entry": "crosses_above(ema(close, fast), ema(close, slow))",
            "exit": "crosses_below(ema(close, fast), ema(close, slow))",
            "stop_loss": "pct(0.05)",
        }
    ],
}
Document = Annotated[dict[str, Any], WithJsonSchema(DOCUMENT_SCHEMA)]

# Letters, digits, space and a little punctuation; neither starting nor ending in
# a space, so that two names that look the same are the same.
NAME_PATTERN = r"^[A-Za-z0-9_](?:[A-Za-z0-9 _.,:()+\-]*[A-Za-z0-9_.,:()+\-])?$"
StrategyName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_STRATEGY_NAME_CHARS,
        pattern=NAME_PATTERN,
        description="letters, digits, spaces and _ . , : ( ) + - (not at either end)",
        examples=["ema cross with stop"],
    ),
]
StrategyId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: Document


class SaveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrategyName
    document: Document


class ParamInfo(ResponseModel):
    type: Literal["int", "float"]
    min: int | float
    max: int | float
    default: int | float


class CanonicalDocument(ResponseModel):
    """The document in canonical form: equal for two strategies that are the same."""

    language: str
    params: dict[str, ParamInfo]
    constraints: list[str]
    entry: str
    exit: str
    stop_loss: str | None
    take_profit: str | None


class Validated(ResponseModel):
    valid: Literal[True]
    canonical: CanonicalDocument
    shape_hash: str = Field(description="equal for strategies that run in one compiled kernel")
    params: dict[str, ParamInfo] = Field(description="the parameters it declares (grid axes)")


class Saved(ResponseModel):
    id: int
    version: int = Field(description="1 for a new name; every later save adds one")
    name: str


class StrategyItem(ResponseModel):
    id: int
    name: str
    visibility: Literal["private", "system"]
    latest_version: int
    created_at: datetime


class StrategyList(ResponseModel):
    strategies: list[StrategyItem] = Field(
        description="the system strategies, then the caller's own, each by name"
    )


class StrategyVersionBody(ResponseModel):
    version: int
    document: dict[str, Any] = Field(description="the document as it was saved")
    canonical: CanonicalDocument
    shape_hash: str
    language: str
    created_at: datetime


class StrategyDetail(ResponseModel):
    id: int
    name: str
    visibility: Literal["private", "system"]
    versions: list[StrategyVersionBody] = Field(description="oldest first")


class Span(ResponseModel):
    line: int
    column: int
    end_column: int = Field(description="exclusive")


class RuleProblem(ResponseModel):
    """One problem of a strategy document, where it is and what to do about it."""

    code: str = Field(examples=["lookahead"])
    message: str
    field: str | None = Field(description="the document key, e.g. entry or params.fast")
    span: Span | None = Field(description="1-based, in that key's expression")
    hint: str | None


class RequestProblem(ResponseModel):
    """One problem of the request itself (its JSON, a type, the name)."""

    field: str
    message: str


class Rejected(ResponseModel):
    """A 422: the rule language's errors (with codes and spans) for a rejected
    document, or the gateway's usual request errors for a malformed request."""

    detail: str
    errors: list[RuleProblem | RequestProblem]
