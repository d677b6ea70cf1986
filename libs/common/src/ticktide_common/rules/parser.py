"""Text to syntax tree: the grammar of one expression, parsed by lark's LALR
parser (a table-driven loop with an explicit stack, so deep nesting cannot
overflow Python's). The tree is built while parsing (lark's inline
transformer): each reduction makes one `nodes` node, and a node over the depth
or size limit stops the parse at once. The text's length is checked first.

Precedence, loosest first: `or`, `and`, `not`, one comparison (never chained),
`+ -`, `* /`, unary `-`, a lag `x[k]`, then numbers, `true`/`false`, names,
calls `f(a, b)` and parentheses.
"""

from __future__ import annotations

from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .errors import RuleError, RuleErrors, Span
from .limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_CHARS

__all__ = ["parse_expression"]

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr | or_expr OR and_expr -> logic
?and_expr: not_expr | and_expr AND not_expr -> logic
?not_expr: comparison | NOT not_expr -> not_
?comparison: sum | sum COMPARE sum -> compare
?sum: product | sum PLUS product -> binary | sum MINUS product -> binary
?product: unary | product STAR unary -> binary | product SLASH unary -> binary
?unary: postfix | MINUS unary -> negate
?postfix: atom | postfix LSQB lag_bars RSQB -> lag
lag_bars: NUMBER | MINUS NUMBER
?atom: NUMBER -> number
     | TRUE -> true
     | FALSE -> false
     | NAME -> name
     | NAME LPAR RPAR -> call
     | NAME LPAR arguments RPAR -> call
     | LPAR or_expr RPAR -> group
arguments: or_expr (COMMA or_expr)*

OR: "or"
AND: "and"
NOT: "not"
TRUE: "true"
FALSE: "false"
COMPARE: "<=" | ">=" | "==" | "!=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
COMMA: ","
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /[ \t\r\n]+/
"""

_TOKEN_WORDS = {
    "OR": "`or`", "AND": "`and`", "NOT": "`not`", "TRUE": "`true`", "FALSE": "`false`",
    "COMPARE": "a comparison", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`",
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`",
    "NUMBER": "a number", "NAME": "a name", "$END": "the end",
}  # fmt: skip


class _Refused(Exception):
    def __init__(self, error: RuleError) -> None:
        self.error = error


def _span(token: Token) -> Span:
    return Span(token.line or 1, token.column or 1, token.end_column or (token.column or 1) + 1)


def _checked(node: n.Node) -> n.Node:
    if node.depth > MAX_DEPTH:
        raise _Refused(
            RuleError(
                "too_deep",
                f"the expression nests deeper than {MAX_DEPTH} levels",
                span=node.span,
                hint="split it into simpler conditions joined by and/or",
            )
        )
    if node.size > MAX_NODES:
        raise _Refused(
            RuleError(
                "too_many_nodes",
                f"the expression has more than {MAX_NODES} parts",
                span=node.span,
                hint="a strategy's rules are meant to be short: simplify it",
            )
        )
    return node


class _Build(Transformer[Token, n.Node]):
    """One node per reduction (called by the LALR parser as it reduces)."""

    def number(self, children: list[Any]) -> n.Node:
        (token,) = children
        text = str(token)
        is_integer = text.isdigit()
        return n.Number(_span(token), text, is_integer)

    def true(self, children: list[Any]) -> n.Node:
        return n.BoolLiteral(_span(children[0]), True)

    def false(self, children: list[Any]) -> n.Node:
        return n.BoolLiteral(_span(children[0]), False)

    def name(self, children: list[Any]) -> n.Node:
        (token,) = children
        return n.Name(_span(token), str(token))

    def group(self, children: list[Any]) -> n.Node:
        left, inner, right = children
        # The group's span covers its parentheses; its node is the inner one.
        return inner

    def negate(self, children: list[Any]) -> n.Node:
        minus, operand = children
        return _checked(n.Negate(n.join_spans(_span(minus), operand.span), operand))

    def binary(self, children: list[Any]) -> n.Node:
        left, operator, right = children
        return _checked(n.Binary(n.join_spans(left.span, right.span), str(operator), left, right))

    def compare(self, children: list[Any]) -> n.Node:
        left, operator, right = children
        return _checked(n.Compare(n.join_spans(left.span, right.span), str(operator), left, right))

    def logic(self, children: list[Any]) -> n.Node:
        left, operator, right = children
        return _checked(n.Logic(n.join_spans(left.span, right.span), str(operator), left, right))

    def not_(self, children: list[Any]) -> n.Node:
        keyword, operand = children
        return _checked(n.Not(n.join_spans(_span(keyword), operand.span), operand))

    def lag_bars(self, children: list[Any]) -> tuple[int, Span]:
        tokens = [child for child in children if isinstance(child, Token)]
        number = tokens[-1]
        span = n.join_spans(_span(tokens[0]), _span(number))
        text = str(number)
        if not text.isdigit():
            raise _Refused(
                RuleError(
                    "bad_lag",
                    f"a lag is a whole number of bars, not {text}",
                    span=span,
                    hint="write close[1] for the previous bar's close",
                )
            )
        bars = int(text[:7])  # longer is over any limit anyway
        return (-bars if len(tokens) == 2 else bars), span

    def lag(self, children: list[Any]) -> n.Node:
        operand, _, (bars, bars_span), right = children
        span = n.join_spans(operand.span, _span(right))
        return _checked(n.Lag(span, operand, bars, bars_span))

    def arguments(self, children: list[Any]) -> list[n.Node]:
        return [child for child in children if isinstance(child, n.Node)]

    def call(self, children: list[Any]) -> n.Node:
        name, _, *rest = children
        right = rest[-1]
        arguments: list[n.Node] = rest[0] if len(rest) == 2 else []
        span = n.join_spans(_span(name), _span(right))
        return _checked(n.Call(span, str(name), _span(name), tuple(arguments)))


_PARSER = Lark(
    GRAMMAR, parser="lalr", lexer="contextual", transformer=_Build(), keep_all_tokens=True
)


def _expected(tokens: set[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(token, token) for token in tokens})
    return ", ".join(words[:6]) + (", …" if len(words) > 6 else "")


def _syntax_error(error: UnexpectedInput, text: str) -> RuleError:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        character = text[position] if position < len(text) else ""
        return RuleError(
            "syntax",
            f"unexpected character {character!r}",
            span=Span(line, column, column + 1),
            hint="names, numbers, operators (+ - * / < <= > >= == != and or not), "
            "calls f(a, b) and lags x[1] are all the language has",
        )
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        lines = text.split("\n")
        end_line = len(lines)
        end_column = len(lines[-1]) + 1
        expected = error.expected if isinstance(error, UnexpectedEOF) else error.expected
        return RuleError(
            "syntax",
            "the expression ends too early",
            span=Span(end_line, end_column, end_column + 1),
            hint=f"expected {_expected(set(expected))}",
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    span = _span(token)
    hint = f"expected {_expected(set(error.expected))}"
    if token.type == "COMPARE":
        hint = "comparisons do not chain: write a < b and b < c"
    return RuleError("syntax", f"unexpected {str(token)!r}", span=span, hint=hint)


def parse_expression(text: str) -> n.Node:
    """The syntax tree of `text`, or RuleErrors with the first problem's span."""
    if len(text) > MAX_SOURCE_CHARS:
        raise RuleErrors(
            [
                RuleError(
                    "too_long",
                    f"an expression is at most {MAX_SOURCE_CHARS} characters "
                    f"(this one is {len(text)})",
                    span=Span(1, 1, 2),
                )
            ]
        )
    if not text.strip():
        raise RuleErrors([RuleError("empty", "the expression is empty", span=Span(1, 1, 2))])
    try:
        tree = _PARSER.parse(text)
    except _Refused as exc:
        raise RuleErrors([exc.error]) from None
    except UnexpectedInput as exc:
        raise RuleErrors([_syntax_error(exc, text)]) from None
    assert isinstance(tree, n.Node)
    return tree
