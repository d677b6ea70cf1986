"""The syntax tree of one expression, as the parser builds it.

Every node carries its span in the expression's text, its depth (1 for a leaf)
and its size (nodes in its subtree), computed as the tree is built bottom-up,
so limits are checked without walking a tree of unknown depth."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span

__all__ = [
    "Binary",
    "BoolLiteral",
    "Call",
    "Compare",
    "Lag",
    "Logic",
    "Name",
    "Negate",
    "Node",
    "Not",
    "Number",
    "join_spans",
]


def join_spans(first: Span, last: Span) -> Span:
    """From the start of `first` to the end of `last` (on `first`'s line when the
    two are on different lines: a span is one line's columns)."""
    if first.line != last.line:
        return Span(first.line, first.column, first.column + 1)
    return Span(first.line, first.column, last.end_column)


@dataclass(frozen=True)
class Node:
    span: Span
    depth: int = field(init=False, default=1, compare=False)
    size: int = field(init=False, default=1, compare=False)

    def children(self) -> tuple[Node, ...]:
        return ()

    def __post_init__(self) -> None:
        kids = self.children()
        if kids:
            object.__setattr__(self, "depth", 1 + max(kid.depth for kid in kids))
            object.__setattr__(self, "size", 1 + sum(kid.size for kid in kids))


@dataclass(frozen=True)
class Number(Node):
    text: str  # as written; the value is parsed by the checker
    is_integer: bool


@dataclass(frozen=True)
class BoolLiteral(Node):
    value: bool


@dataclass(frozen=True)
class Name(Node):
    name: str  # a series (open high low close volume) or a parameter


@dataclass(frozen=True)
class Negate(Node):
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Node):
    operator: str  # + - * /
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(Node):
    operator: str  # < <= > >= == !=
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Logic(Node):
    operator: str  # and | or
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Lag(Node):
    operand: Node
    bars: int  # as written: the checker rejects a negative one
    bars_span: Span

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Call(Node):
    function: str
    function_span: Span
    arguments: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.arguments
