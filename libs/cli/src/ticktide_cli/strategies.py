"""`ticktide strategy validate|save|list`, through the API: a strategy document
(a JSON file in the rule language ticktide-rules/1) read and checked locally for
what needs no server (its size, that it is a JSON object), then checked
(`POST /api/strategies/validate`) or saved as a new version (`POST /api/strategies`);
a rejected document's errors printed as a compiler prints them (file, key,
line:column, the expression's line with the span underlined, the hint); the
strategies the caller may use listed (`GET /api/strategies`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ticktide_cli.context import CliContext, CliError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "StrategyFile",
    "Rejection",
    "read_strategy_file",
    "default_name",
    "validate_strategy",
    "save_strategy",
    "list_strategies",
    "format_problem",
    "print_rejection",
    "print_parameters",
    "print_strategy_table",
]

# The gateway's bound on a strategy request's body: a larger file cannot be sent.
MAX_DOCUMENT_BYTES = 64 * 1024
VALIDATE_PATH = "/api/strategies/validate"
STRATEGIES_PATH = "/api/strategies"
STDIN = "-"


@dataclass(frozen=True)
class StrategyFile:
    """A document read from `label` (a path, or `<stdin>`)."""

    label: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """The API's 422 for a document: each problem as it answered it."""

    problems: list[dict[str, Any]]
    detail: str


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_strategy_file(path: str, stdin: BinaryIO | None = None) -> StrategyFile:
    """The JSON object in `path` (`-`: standard input), or a `CliError` saying why
    not: missing, larger than MAX_DOCUMENT_BYTES (known before reading a file),
    not UTF-8, not JSON, or not an object."""
    if path == STDIN:
        label = "<stdin>"
        source = stdin if stdin is not None else sys.stdin.buffer
        raw = source.read(MAX_DOCUMENT_BYTES + 1)
    else:
        label = path
        file = Path(path)
        try:
            size = file.stat().st_size
            if file.is_dir():
                raise CliError(f"{label}: a directory, not a strategy file")
            if size > MAX_DOCUMENT_BYTES:
                raise CliError(_too_large(label, size))
            with file.open("rb") as opened:
                raw = opened.read(MAX_DOCUMENT_BYTES + 1)
        except FileNotFoundError:
            raise CliError(f"{label}: no such file") from None
        except PermissionError:
            raise CliError(f"{label}: not readable (permission denied)") from None
        except OSError as exc:
            raise CliError(f"{label}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise CliError(_too_large(label, None))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{label}: not UTF-8 text (byte {exc.start + 1})") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{label}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise CliError(f"{label}: not JSON: {str(exc) or 'nested too deeply'}") from None
    if not isinstance(document, dict):
        raise CliError(
            f"{label}: a strategy document is a JSON object "
            '({"language": "ticktide-rules/1", "entry": ..., "exit": ...}), '
            f"not {_json_kind(document)}"
        )
    return StrategyFile(label, document)


def _too_large(label: str, size: int | None) -> str:
    found = f" ({size:,} bytes)" if size is not None else ""
    return (
        f"{label}: too large{found}: a strategy document is at most "
        f"{MAX_DOCUMENT_BYTES // 1024} KiB"
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def default_name(path: str) -> str:
    """A strategy's name when none is given: the file's stem (`ema_cross.json`: `ema_cross`)."""
    if path == STDIN:
        raise CliError("a document from standard input needs --name")
    return Path(path).stem


def _rejection(body: Any) -> Rejection:
    problems = body.get("errors") if isinstance(body, Mapping) else None
    detail = body.get("detail") if isinstance(body, Mapping) else None
    listed = [dict(p) for p in problems if isinstance(p, Mapping)] if problems else []
    if not listed and isinstance(detail, list):  # FastAPI's own 422: {"loc","msg"}
        listed = [
            {
                "field": ".".join(str(p) for p in item.get("loc", ()) if p != "body") or None,
                "message": item.get("msg"),
            }
            for item in detail
            if isinstance(item, Mapping)
        ]
    return Rejection(listed, str(detail) if isinstance(detail, str) else "")


async def validate_strategy(ctx: CliContext, strategy: StrategyFile) -> dict[str, Any] | Rejection:
    """The API's answer (`valid`, `canonical`, `shape_hash`, `params`), or its rejection."""
    response = await ctx.api.request(
        "POST", VALIDATE_PATH, json={"document": strategy.document}, ok=(422,)
    )
    if response.status_code == 422:
        return _rejection(_json(response))
    return dict(_json(response))


async def save_strategy(
    ctx: CliContext, strategy: StrategyFile, name: str
) -> dict[str, Any] | Rejection:
    """The saved version (`id`, `version`, `name`), or the rejection of the document."""
    response = await ctx.api.request(
        "POST", STRATEGIES_PATH, json={"name": name, "document": strategy.document}, ok=(422,)
    )
    if response.status_code == 422:
        return _rejection(_json(response))
    return dict(_json(response))


async def list_strategies(ctx: CliContext) -> list[dict[str, Any]]:
    """The system strategies and the caller's own, as the API lists them."""
    body = await ctx.api.get(STRATEGIES_PATH)
    return [dict(s) for s in body.get("strategies") or []]


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CliError(
            f"{response.request.method} {response.request.url.path}: the server answered "
            f"{response.status_code} without JSON"
        ) from None


def _expression(document: Mapping[str, Any], field: str | None) -> str | None:
    """The text of the expression `field` names (`entry`, `constraints.0`), if any."""
    if not field:
        return None
    key, _, index = field.partition(".")
    value = document.get(key)
    if index and isinstance(value, list) and index.isdigit() and int(index) < len(value):
        value = value[int(index)]
    elif index:
        return None
    return value if isinstance(value, str) else None


def format_problem(label: str, problem: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    """One problem as a compiler prints it:

        FILE: entry:1:7: lags look back only: use close[1] [lookahead]
            close[-1] > close
                  ^^
          hint: ...

    (the span's columns are 1-based, its end exclusive)."""
    field = problem.get("field") or None
    span = problem.get("span") if isinstance(problem.get("span"), Mapping) else None
    where = label + (f": {field}" if field else "")
    line = column = end_column = 0
    if span is not None:
        line, column, end_column = (_int(span.get(k)) for k in ("line", "column", "end_column"))
        if line >= 1 and column >= 1:
            where += f":{line}:{column}"
    message = str(problem.get("message") or "rejected")
    code = problem.get("code")
    out = [f"{where}: {message}" + (f" [{code}]" if code else "")]
    source = _expression(document, field)
    if source is not None and span is not None and line >= 1 and column >= 1:
        lines = source.split("\n")
        if line <= len(lines):
            # Tabs as one space each, so that the underline's columns stay the span's.
            text = lines[line - 1].replace("\t", " ").rstrip("\r")
            width = max(1, min(end_column, len(text) + 1) - column)
            out.append(f"    {text}")
            out.append("    " + " " * (column - 1) + "^" * width)
    hint = problem.get("hint")
    if hint:
        out.append(f"  hint: {hint}")
    return "\n".join(out)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# The gateway's request errors name the body field so (`error_handlers._location`).
_NAME_FIELDS = ("body parameter 'name'", "name")
NAME_HINT = "letters, digits, spaces and _ . , : ( ) + - (not a space at either end)"


def _format(strategy: StrategyFile, problem: Mapping[str, Any], name: str | None) -> str:
    """A problem of the document at its place in FILE; one of the name (a request
    error, without a code) as the option's."""
    if name is not None and not problem.get("code") and problem.get("field") in _NAME_FIELDS:
        message = problem.get("message") or "refused"
        return f"--name {name!r}: {message}\n  hint: a name has {NAME_HINT}"
    return format_problem(strategy.label, problem, strategy.document)


def print_rejection(
    console: Console,
    strategy: StrategyFile,
    rejection: Rejection,
    *,
    verb: str,
    name: str | None = None,
) -> None:
    """Every problem, then a one-line verdict."""
    for problem in rejection.problems:
        console.print(
            _format(strategy, problem, name), markup=False, highlight=False, soft_wrap=True
        )
    if not rejection.problems:
        console.print(
            f"{strategy.label}: {rejection.detail or 'rejected'}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    count = len(rejection.problems)
    console.print(
        f"{strategy.label}: {verb}: {count or 1} error{'s' if count > 1 else ''}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def print_parameters(console: Console, params: Mapping[str, Any]) -> None:
    """The parameters a document declares (each a grid axis), as a table."""
    if not params:
        console.print("no parameters")
        return
    table = Table(title="parameters")
    for column in ("name", "type", "min", "max", "default"):
        table.add_column(column, justify="left" if column in ("name", "type") else "right")
    for name, spec in params.items():
        spec = spec if isinstance(spec, Mapping) else {}
        table.add_row(
            Text(str(name)),
            *(Text(_cell(spec.get(key))) for key in ("type", "min", "max", "default")),
        )
    console.print(table)


def print_strategy_table(console: Console, strategies: Sequence[Mapping[str, Any]]) -> None:
    table = Table(title="strategies")
    for column in ("id", "name", "visibility", "latest version", "created"):
        table.add_column(column, justify="right" if column in ("id", "latest version") else "left")
    for strategy in strategies:
        table.add_row(
            *(Text(_cell(strategy.get(key))) for key in ("id", "name", "visibility")),
            Text(_cell(strategy.get("latest_version"))),
            Text(_minute(strategy.get("created_at"))),
        )
    console.print(table)


def _minute(value: Any) -> str:
    """An ISO-8601 time to the minute, in UTC (as the API answers it)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _cell(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo is not None else "")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
