"""The strategy editor as text: a `ticktide-rules/1` document split into the
editor's fields and read back from them, each problem (the page's own, such as
Parameters that are not JSON, or the API's, with their spans) put under its
field with the offending characters marked, and the parameters a document
declares. Pure: no I/O.

The fields are the document's keys, except Constraints (one expression a line)
and Parameters (the `params` object as JSON). A problem's position is in its
field's text: the API's `constraints.N` span is moved to the line that holds
constraint N, and a parameter's problem (which has no span) marks its name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ticktide_common.rules import LANGUAGE

__all__ = [
    "EDITOR_FIELDS",
    "NAME_RULE",
    "Draft",
    "FieldError",
    "Problems",
    "form_values",
    "in_written_order",
    "param_rows",
    "read_document",
    "rule_problems",
]

# (form name, label): the labels are the page's accessible names (docs/ARCHITECTURE.md).
EDITOR_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("params", "Parameters"),
    ("entry", "Entry"),
    ("exit", "Exit"),
    ("stop_loss", "Stop loss"),
    ("take_profit", "Take profit"),
    ("constraints", "Constraints"),
)
_EXPRESSIONS = ("entry", "exit", "stop_loss", "take_profit")
NAME_RULE = "a name is letters, digits, spaces and _ . , : ( ) + - (no space at either end)"
_CONTEXT_LINES = 2  # lines shown either side of a marked one
PARAMS_HINT = (
    'an object of parameters, e.g. {"fast": {"type": "int", "min": 2, "max": 50, "default": 10}}'
)


@dataclass(frozen=True)
class SourceLine:
    """One line of a field's text in an error's excerpt; `marked` is the span."""

    number: int
    before: str
    marked: str = ""
    after: str = ""
    is_marked: bool = False


@dataclass(frozen=True)
class FieldError:
    """One problem of one editor field, with where it is in that field's text."""

    field: str
    message: str
    hint: str | None = None
    code: str = ""
    line: int | None = None
    column: int | None = None
    end_column: int | None = None
    excerpt: tuple[SourceLine, ...] = ()

    @property
    def position(self) -> str:
        """`Line 1, column 7` (or nothing for a problem with no position)."""
        if self.line is None or self.column is None:
            return ""
        return f"Line {self.line}, column {self.column}"


@dataclass
class Problems:
    """A document's problems: by editor field, and those of no field."""

    fields: dict[str, list[FieldError]]
    general: list[str]

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


@dataclass(frozen=True)
class Draft:
    """The editor's text read into a document (None when the page itself found
    problems), and the textarea line of each constraint, for the API's spans."""

    document: dict[str, Any] | None
    problems: Problems
    constraint_lines: tuple[int, ...]


def _text(value: Any) -> str:
    return "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")


_SPEC_KEYS = ("type", "min", "max", "default")


def _spec_order(spec: Any) -> Any:
    """A parameter's keys as the language writes them (stored JSON sorts its own)."""
    if not isinstance(spec, dict):
        return spec
    return {
        **{k: spec[k] for k in _SPEC_KEYS if k in spec},
        **{k: v for k, v in spec.items() if k not in _SPEC_KEYS},
    }


def _params_text(params: Any) -> str:
    """One parameter a line, so that a problem's line is its parameter's."""
    if not isinstance(params, dict) or not params:
        return "{}"
    lines = [
        f"  {json.dumps(name)}: {json.dumps(_spec_order(spec))}" for name, spec in params.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}"


def form_values(document: dict[str, Any] | None, name: str = "") -> dict[str, str]:
    """The editor's text of a stored document (empty fields for a new one)."""
    values = {field: "" for field, _ in EDITOR_FIELDS}
    values["name"] = name
    if not document:
        return values
    values["params"] = _params_text(document.get("params"))
    for key in _EXPRESSIONS:
        values[key] = _text(document.get(key))
    constraints = document.get("constraints") or []
    values["constraints"] = "\n".join(_text(c) for c in constraints if isinstance(c, str))
    return values


def excerpt(text: str, line: int, column: int, end_column: int | None) -> tuple[SourceLine, ...]:
    """The lines around `line` of `text`, the span [column, end_column) of it marked
    (at least one character: a span at the very end marks the place after it)."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ()
    shown = []
    first = max(1, line - _CONTEXT_LINES)
    last = min(len(lines), line + _CONTEXT_LINES)
    for number in range(first, last + 1):
        content = lines[number - 1]
        if number != line:
            shown.append(SourceLine(number, content))
            continue
        start = max(column - 1, 0)
        stop = max(end_column - 1 if end_column else start + 1, start + 1)
        marked = content[start:stop] or " "
        shown.append(SourceLine(number, content[:start], marked, content[stop:], True))
    return tuple(shown)


def _located(
    field: str, text: str, message: str, hint: str | None, code: str, span: Any
) -> FieldError:
    """The problem at `span` of the field's `text` (unplaced without a usable span)."""
    if not isinstance(span, dict):
        return FieldError(field, message, hint, code)
    line, column, end = span.get("line"), span.get("column"), span.get("end_column")
    if not isinstance(line, int) or not isinstance(column, int):
        return FieldError(field, message, hint, code)
    end = end if isinstance(end, int) else None
    marked = excerpt(text, line, column, end)
    return FieldError(field, message, hint, code, line, column, end, marked)


def read_document(values: dict[str, str]) -> Draft:
    """The document of the editor's text, or the problems the page finds itself
    (Parameters that are not a JSON object); everything else is the API's to check."""
    fields: dict[str, list[FieldError]] = {}
    params_text = _text(values.get("params"))
    params: Any = {}
    if params_text.strip():
        try:
            params = json.loads(params_text)
        except json.JSONDecodeError as exc:
            span = {"line": exc.lineno, "column": exc.colno, "end_column": exc.colno + 1}
            fields["params"] = [
                _located("params", params_text, f"not JSON: {exc.msg}", PARAMS_HINT, "json", span)
            ]
        else:
            if not isinstance(params, dict):
                fields["params"] = [
                    FieldError("params", "Parameters must be a JSON object", PARAMS_HINT, "json")
                ]
    constraint_lines: list[int] = []
    constraints: list[str] = []
    for number, line in enumerate(_text(values.get("constraints")).split("\n"), start=1):
        if line.strip():
            constraint_lines.append(number)
            constraints.append(line.rstrip())
    document: dict[str, Any] = {"language": LANGUAGE, "params": params, "constraints": constraints}
    for key in ("entry", "exit"):
        document[key] = _text(values.get(key)).rstrip()
    for key in ("stop_loss", "take_profit"):
        text = _text(values.get(key)).rstrip()
        if text.strip():
            document[key] = text
    problems = Problems(fields, [])
    return Draft(None if problems else document, problems, tuple(constraint_lines))


def _param_span(params_text: str, name: str) -> dict[str, int] | None:
    """Where parameter `name`'s key is in the Parameters text."""
    found = re.search(re.escape(json.dumps(name)) + r"\s*:", params_text)
    if found is None:
        return None
    before = params_text[: found.start()]
    line = before.count("\n") + 1
    column = found.start() - (before.rfind("\n") + 1) + 1
    return {"line": line, "column": column, "end_column": column + len(json.dumps(name))}


def _editor_field(where: str) -> tuple[str | None, int | None, str | None]:
    """(editor field, constraint index, parameter name) of an API error's `field`
    (`entry`, `constraints.2`, `params.fast`, `body parameter 'name'`)."""
    if "'" in where:
        where = where.split("'")[1]
    parts = where.split(".")
    if parts and parts[0] == "document":
        parts = parts[1:]
    if not parts or not parts[0]:
        return None, None, None
    head = parts[0]
    if head == "constraints":
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return "constraints", index, None
    if head == "params":
        return "params", None, parts[1] if len(parts) > 1 else None
    if head in _EXPRESSIONS or head == "name":
        return head, None, None
    return None, None, None


def rule_problems(
    errors: list[dict[str, Any]], values: dict[str, str], constraint_lines: tuple[int, ...]
) -> Problems:
    """The API's 422 errors under the editor's fields, each at its position there."""
    problems = Problems({}, [])
    for error in errors:
        message = str(error.get("message") or "invalid")
        hint = error.get("hint") if isinstance(error.get("hint"), str) else None
        code = str(error.get("code") or "")
        where = str(error.get("field") or "")
        field, index, param = _editor_field(where)
        if field is None:
            shown = where and where not in ("document", "request body")
            problems.general.append(f"{where}: {message}" if shown else message)
            continue
        if field == "name" and "pattern" in message:
            message = NAME_RULE
        span = error.get("span")
        text = _text(values.get(field))
        if field == "constraints" and index is not None and isinstance(span, dict):
            if index < len(constraint_lines):
                span = {**span, "line": constraint_lines[index] + int(span.get("line", 1)) - 1}
            else:
                span = None
        if field == "params" and param is not None and not isinstance(span, dict):
            span = _param_span(text, param)
        found = _located(field, text, message, hint, code, span)
        problems.fields.setdefault(field, []).append(found)
    return problems


def in_written_order(params: Any, written: Any) -> dict[str, Any]:
    """The canonical `params` (sorted by name) in the order the document wrote them."""
    if not isinstance(params, dict):
        return {}
    order = list(written) if isinstance(written, dict) else []
    first = {name: params[name] for name in order if name in params}
    return {**first, **{k: v for k, v in params.items() if k not in first}}


def param_rows(params: Any, written: Any = None) -> list[dict[str, Any]]:
    """The declared parameters as the page's table shows them, in written order."""
    if not isinstance(params, dict):
        return []
    params = in_written_order(params, written)
    return [
        {
            "name": name,
            "type": spec.get("type", ""),
            "min": spec.get("min"),
            "max": spec.get("max"),
            "default": spec.get("default"),
        }
        for name, spec in params.items()
        if isinstance(spec, dict)
    ]
