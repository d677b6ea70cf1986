"""What the strategy routes decide without I/O: a document checked as the rule
language checks it (after a nesting bound of its own, so that no JSON sent can
recurse through the checker), the 422 body of a rejected one, the limits of what
one account may keep, and the system strategies as stored versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticktide_common.rules import LANGUAGE, CheckedStrategy, RuleError, RuleErrors, check_document
from ticktide_common.rules.system import SYSTEM_STRATEGIES

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "MAX_STRATEGIES_PER_USER",
    "MAX_VERSIONS_PER_STRATEGY",
    "CheckedVersion",
    "check_strategy",
    "rejection_body",
    "system_versions",
]

MAX_STRATEGIES_PER_USER = 100
MAX_VERSIONS_PER_STRATEGY = 200
# A valid document nests 3 levels (document, params, one parameter); anything much
# deeper is refused before the checker (which serializes the document) sees it.
MAX_DOCUMENT_DEPTH = 8


@dataclass(frozen=True)
class CheckedVersion:
    """A document that passed, as a version row stores it."""

    source: dict[str, Any]
    canonical: dict[str, Any]
    shape_hash: str
    language: str


def _depth(value: Any) -> int:
    """How deeply `value` nests objects and arrays (iterative: any depth is safe)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DOCUMENT_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


def check_strategy(document: dict[str, Any]) -> tuple[CheckedStrategy, CheckedVersion]:
    """The checked strategy of `document` and the version it makes, or RuleErrors."""
    if _depth(document) > MAX_DOCUMENT_DEPTH:
        raise RuleErrors(
            [
                RuleError(
                    "document",
                    f"a strategy document nests at most {MAX_DOCUMENT_DEPTH} levels",
                    hint="params holds objects of numbers; every other key is a string or a list",
                )
            ]
        )
    checked = check_document(document)
    return checked, CheckedVersion(document, checked.canonical, checked.shape_hash, LANGUAGE)


def rejection_body(exc: RuleErrors) -> dict[str, Any]:
    """CONTRACT §2's 422 body (`errors`, first), with the gateway's usual one-line
    `detail` after it."""
    errors = exc.as_json()["errors"]
    detail = "; ".join(
        f"{error['field']}: {error['message']}" if error["field"] else error["message"]
        for error in errors
    )
    return {"errors": errors, "detail": detail or "the strategy document was rejected"}


def system_versions() -> dict[str, CheckedVersion]:
    """Each built-in strategy's document as the version the gateway seeds."""
    return {name: check_strategy(document)[1] for name, document in SYSTEM_STRATEGIES.items()}
