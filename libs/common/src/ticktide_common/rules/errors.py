"""Errors a person can act on: a code, a message, the document key (`field`), the
position in that key's expression (`span`, 1-based line and columns, end
exclusive) and a hint. The API answers them as CONTRACT §2's 422 body."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RuleError", "RuleErrors", "Span"]


@dataclass(frozen=True)
class Span:
    line: int
    column: int
    end_column: int


@dataclass(frozen=True)
class RuleError:
    code: str
    message: str
    field: str | None = None
    span: Span | None = None
    hint: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def at(self, field: str) -> RuleError:
        """The same error, naming the document key it is in."""
        return RuleError(self.code, self.message, field, self.span, self.hint)


class RuleErrors(Exception):
    """A document was rejected: every error found, in document order."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors

    def as_json(self) -> dict[str, Any]:
        return {"errors": [error.as_json() for error in self.errors]}
