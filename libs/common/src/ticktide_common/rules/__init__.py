"""The rule language `ticktide-rules/1`: strategies users write themselves, as data.

A strategy is a JSON document (parameters, constraints, entry and exit rules,
optional stops) whose expressions are parsed by a real grammar (lark, LALR),
type-checked against a fixed set of causal indicators and turned into a
canonical form and a shape. Nothing here ever evaluates user text: the gateway
validates and stores documents with this package, the backtest workers compile
the checked form into their bar loop. Pure: no I/O.
"""

from .document import CheckedStrategy, check_document
from .errors import RuleError, RuleErrors, Span
from .limits import LANGUAGE

__all__ = ["LANGUAGE", "CheckedStrategy", "RuleError", "RuleErrors", "Span", "check_document"]
