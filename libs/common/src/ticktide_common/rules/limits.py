"""The language's name and every bound a document must stay within. Each bound
is checked before the work it bounds (the source length before parsing, the
depth and node count while the tree is built, windows and lags before anything
is computed), and each has its own error code."""

from __future__ import annotations

LANGUAGE = "ticktide-rules/1"

MAX_SOURCE_CHARS = 2_000  # one expression's text
MAX_DOCUMENT_CHARS = 20_000  # every expression and name of a document together
MAX_NODES = 400  # one expression's syntax tree
MAX_DEPTH = 40  # nesting of one expression (parentheses, operators, calls)
MAX_PARAMS = 12  # parameters a document declares (each is a grid axis)
MAX_CONSTRAINTS = 12
MAX_INDICATOR_CALLS = 32  # distinct indicator calls of a whole document
MAX_WINDOW = 10_000  # bars an indicator may look back
MAX_LAG = 1_000  # bars x[k] may look back
MAX_NAME_CHARS = 32
MAX_STRATEGY_NAME_CHARS = 80
COMPILE_SECONDS = 10.0  # a compile (kernel included) that takes longer fails the job
