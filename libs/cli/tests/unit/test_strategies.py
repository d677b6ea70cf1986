"""`ticktide strategy` without a server: a file that is not a JSON object, or is
too large, is refused before any connection is made; no credential is the CLI's
usual "not signed in"; a rejected document's errors print as a compiler prints
them (file, key, line:column, the expression's line with the span underlined,
the hint)."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ticktide_cli.credentials import NOT_SIGNED_IN
from ticktide_cli.errors import CliError
from ticktide_cli.main import app
from ticktide_cli.strategies import (
    MAX_DOCUMENT_BYTES,
    Rejection,
    StrategyFile,
    default_name,
    format_problem,
    print_rejection,
    print_strategy_table,
    read_strategy_file,
)

EMA_CROSS = {
    "language": "ticktide-rules/1",
    "params": {
        "fast": {"type": "int", "min": 2, "max": 50, "default": 10},
        "slow": {"type": "int", "min": 10, "max": 200, "default": 30},
    },
    "constraints": ["fast < slwo"],
    "entry": "close[-1] > close",
    "exit": "crosses_below(ema(close, fast),\n  ema(close, slow)) and volume > sma(volum, 20)",
}


def _problem(field: str | None, line: int, column: int, end: int, **extra: object) -> dict:
    return {
        "code": extra.get("code", "lookahead"),
        "message": extra.get("message", "lags look back only: use close[1]"),
        "field": field,
        "span": {"line": line, "column": column, "end_column": end},
        "hint": extra.get("hint", "close[1] is the value 1 bar(s) ago"),
    }


def test_a_problem_prints_like_a_compiler_error_with_the_span_underlined() -> None:
    printed = format_problem("ema.json", _problem("entry", 1, 7, 9), EMA_CROSS)
    assert printed.split("\n") == [
        "ema.json: entry:1:7: lags look back only: use close[1] [lookahead]",
        "    close[-1] > close",
        "          ^^",
        "  hint: close[1] is the value 1 bar(s) ago",
    ]


def test_the_span_is_found_on_its_line_and_in_a_constraint() -> None:
    second_line = format_problem(
        "s.json", _problem("exit", 2, 38, 43, code="unknown_name", message="x"), EMA_CROSS
    ).split("\n")
    assert second_line[0] == "s.json: exit:2:38: x [unknown_name]"
    assert second_line[1] == "      ema(close, slow)) and volume > sma(volum, 20)"
    caret = second_line[2]
    assert caret.index("^") - 4 == 37 and caret.count("^") == 5
    assert second_line[1][caret.index("^") : caret.index("^") + 5] == "volum"

    constraint = format_problem("s.json", _problem("constraints.0", 1, 8, 12), EMA_CROSS)
    assert constraint.split("\n")[1:3] == ["    fast < slwo", "           ^^^^"]


def test_problems_without_a_span_or_an_expression_print_one_line() -> None:
    no_span = {"code": "params", "message": "min is above max", "field": "params.fast"}
    assert format_problem("s.json", no_span, EMA_CROSS) == (
        "s.json: params.fast: min is above max [params]"
    )
    request = {"field": "name", "message": "String should match pattern"}
    assert format_problem("s.json", request, EMA_CROSS) == (
        "s.json: name: String should match pattern"
    )
    # A span past the text (or a line it does not have) never breaks the output.
    beyond = format_problem("s.json", _problem("entry", 3, 1, 2, hint=None), EMA_CROSS)
    assert beyond == "s.json: entry:3:1: lags look back only: use close[1] [lookahead]"
    zero_width = format_problem("s.json", _problem("entry", 1, 18, 18), EMA_CROSS)
    assert zero_width.split("\n")[2] == "    " + " " * 17 + "^"


def test_tabs_keep_the_underline_under_the_span() -> None:
    document = {"entry": "\tclose[-1]"}
    lines = format_problem("t.json", _problem("entry", 1, 8, 10), document).split("\n")
    assert lines[1] == "     close[-1]"
    assert lines[2] == "           ^^"


def test_files_that_are_not_a_json_object_are_refused(tmp_path: Path) -> None:
    cases: dict[str, tuple[bytes, str]] = {
        "truncated.json": (b'{"entry": ', "not JSON: Expecting value at line 1 column 11"),
        "list.json": (b"[1, 2]", "a strategy document is a JSON object"),
        "nan.json": (b'{"k": NaN}', "NaN is not a JSON number"),
        "latin1.json": (b'{"entry": "\xe9"}', "not UTF-8"),
    }
    for name, (content, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CliError) as caught:
            read_strategy_file(str(path))
        assert str(caught.value).startswith(f"{path}: ") and words in str(caught.value)
    with pytest.raises(CliError, match="no such file"):
        read_strategy_file(str(tmp_path / "missing.json"))
    with pytest.raises(CliError, match="a directory"):
        read_strategy_file(str(tmp_path))


def test_a_large_file_is_refused_by_its_size_and_stdin_by_what_it_reads(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"entry": "x" * MAX_DOCUMENT_BYTES}))
    with pytest.raises(CliError, match=r"too large \(65,549 bytes\): .* at most 64 KiB"):
        read_strategy_file(str(big))
    endless = io.BytesIO(b" " * (10 * MAX_DOCUMENT_BYTES))
    with pytest.raises(CliError, match="<stdin>: too large"):
        read_strategy_file("-", stdin=endless)
    assert endless.tell() == MAX_DOCUMENT_BYTES + 1  # read no further than needed

    exact = {"entry": "true", "exit": "false", "pad": " " * (MAX_DOCUMENT_BYTES - 100)}
    read = read_strategy_file("-", stdin=io.BytesIO(json.dumps(exact).encode()))
    assert read == StrategyFile("<stdin>", exact)


def test_the_name_defaults_to_the_file_stem() -> None:
    assert default_name("strategies/ema_cross.json") == "ema_cross"
    with pytest.raises(CliError, match="needs --name"):
        default_name("-")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that accepts connections, to tell whether the CLI made one."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def _cli_env(tmp_path: Path, url: str, token: str | None) -> dict[str, str | None]:
    return {
        "TICKTIDE_URL": url,
        "TICKTIDE_TOKEN": token,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TICKTIDE_RUN_DIR": str(tmp_path / "run"),  # no operator token there
        "TICKTIDE_CA_BUNDLE": None,
        "COLUMNS": "200",
    }


@pytest.mark.parametrize("command", ["validate", "save"])
def test_a_bad_file_is_refused_at_once_without_a_request(
    command: str, tmp_path: Path, listener: socket.socket
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"language": "ticktide-rules/1", "entry": "close > 1",}')
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["strategy", command, str(bad)], env=_cli_env(tmp_path, url, "ttk_unused")
    )
    assert time.monotonic() - started < 2
    assert result.exit_code == 1, result.output
    assert f"error: {bad}: not JSON: Expecting property name" in result.output
    assert not _connected(listener)


def test_without_a_credential_the_usual_not_signed_in(
    tmp_path: Path, listener: socket.socket
) -> None:
    good = tmp_path / "ema.json"
    good.write_text(json.dumps(EMA_CROSS))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    for args in (["validate", str(good)], ["save", str(good)], ["list"]):
        result = CliRunner().invoke(app, ["strategy", *args], env=_cli_env(tmp_path, url, None))
        assert result.exit_code == 1, result.output
        assert f"error: {NOT_SIGNED_IN}" in " ".join(result.output.split()), result.output
    assert not _connected(listener)


def test_stdin_needs_a_name_to_be_saved(tmp_path: Path, listener: socket.socket) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    result = CliRunner().invoke(
        app,
        ["strategy", "save", "-"],
        input=json.dumps(EMA_CROSS),
        env=_cli_env(tmp_path, url, "ttk_unused"),
    )
    assert result.exit_code == 1 and "needs --name" in result.output, result.output
    assert not _connected(listener)


def test_the_list_is_a_table_of_id_name_visibility_and_latest_version() -> None:
    console = Console(record=True, width=120)
    print_strategy_table(
        console,
        [
            {
                "id": 3,
                "name": "ema_cross",
                "visibility": "system",
                "latest_version": 1,
                "created_at": "2026-01-02T03:04:05.678+00:00",
            },
            {
                "id": 12,
                "name": "mine [v2] (copy)",
                "visibility": "private",
                "latest_version": 4,
                "created_at": "2026-01-02T05:04:05+02:00",
            },
        ],
    )
    rows = [" ".join(line.strip("│┃ ").split()) for line in console.export_text().splitlines()]
    assert "3 │ ema_cross │ system │ 1 │ 2026-01-02 03:04 UTC" in rows
    assert "12 │ mine [v2] (copy) │ private │ 4 │ 2026-01-02 03:04 UTC" in rows  # no markup


def test_a_refused_name_is_the_option_s_error() -> None:
    console = Console(record=True, width=200)
    strategy = StrategyFile("ema.json", EMA_CROSS)
    problem = {"field": "body parameter 'name'", "message": "String should match pattern"}
    print_rejection(
        console, strategy, Rejection([problem], "bad name"), verb="not saved", name=" x"
    )
    assert console.export_text().splitlines() == [
        "--name ' x': String should match pattern",
        "  hint: a name has letters, digits, spaces and _ . , : ( ) + - (not a space at "
        "either end)",
        "ema.json: not saved: 1 error",
    ]
