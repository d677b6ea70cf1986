"""The strategy editor's pure parts: a document split into its fields and read
back, each problem (the page's own and the rule language's, as the API sends
them) under its field with its span marked, the page rendered with them, and the
"Run a grid" form read into a batch with `"strategy": {"id", "version"}`."""

from __future__ import annotations

from typing import Any

from ticktide_common.rules import LANGUAGE, RuleErrors, check_document
from ticktide_common.rules.system import SYSTEM_STRATEGIES
from ticktide_web.pages.backtests.views import json_block
from ticktide_web.pages.strategies.editor import (
    EDITOR_FIELDS,
    NAME_RULE,
    Problems,
    excerpt,
    form_values,
    param_rows,
    read_document,
    rule_problems,
)
from ticktide_web.pages.strategies.grid import grid_defaults, read_grid
from ticktide_web.rendering import build_environment

PARAMS = '{\n  "fast": {"type": "int", "min": 2, "max": 50, "default": 10},\n  "slow": {"type": "int", "min": 3, "max": 90, "default": 30}\n}'  # noqa: E501
SYMBOLS = [
    {
        "symbol": "BTCUSDT",
        "intervals": {
            "1h": {"candles": 48, "first": "2024-01-01T00:00:00Z", "last": "2024-01-02T23:00:00Z"}
        },
    }
]


def editor(**overrides: str) -> dict[str, str]:
    values = {
        "name": "mine",
        "params": PARAMS,
        "entry": "close[-1] > open",
        "exit": "close < sma(close, fast)",
        "stop_loss": "",
        "take_profit": "",
        "constraints": "fast < slow",
    }
    values.update(overrides)
    return values


def problems_of(values: dict[str, str]) -> Problems:
    """What the page shows for the API's 422 of these values (the checker is the API's)."""
    draft = read_document(values)
    assert draft.document is not None, draft.problems
    try:
        check_document(draft.document)
    except RuleErrors as exc:
        return rule_problems(exc.as_json()["errors"], values, draft.constraint_lines)
    return Problems({}, [])


def test_every_system_strategy_goes_through_the_editor_unchanged() -> None:
    for document in SYSTEM_STRATEGIES.values():
        draft = read_document(form_values(document, "x"))
        assert draft.document is not None
        expected = {"params": {}, "constraints": [], **document}
        assert draft.document == expected
        assert check_document(draft.document).canonical == check_document(document).canonical


def test_a_negative_lag_is_shown_under_entry_at_line_1_column_7_with_its_hint() -> None:
    found = problems_of(editor())
    assert list(found.fields) == ["entry"] and not found.general
    (error,) = found.fields["entry"]
    assert error.position == "Line 1, column 7"
    assert error.message == "lags look back only: use close[1]"
    assert error.hint and error.hint.startswith("close[1] is the value")
    (line,) = error.excerpt
    assert (line.before, line.marked, line.after) == ("close[", "-1", "] > open")


def test_a_constraint_is_marked_on_its_own_line_of_the_constraints_field() -> None:
    found = problems_of(editor(entry="close > open", constraints="\nfast < slow\n\nfast < sloww"))
    (error,) = found.fields["constraints"]
    assert error.position == "Line 4, column 8"
    marked = [line for line in error.excerpt if line.is_marked]
    assert [(m.before, m.marked) for m in marked] == [("fast < ", "sloww")]


def test_a_later_line_of_a_multi_line_expression_is_marked_there() -> None:
    found = problems_of(editor(entry="close > open", exit="close < open\n  and nothing"))
    (error,) = found.fields["exit"]
    assert error.position == "Line 2, column 7"
    assert [line.number for line in error.excerpt] == [1, 2]
    assert error.excerpt[1].marked == "nothing"


def test_parameters_that_are_not_json_are_marked_where_the_json_breaks() -> None:
    draft = read_document(editor(params='{\n  "fast": {"type": "int",, }\n}'))
    assert draft.document is None
    (error,) = draft.problems.fields["params"]
    assert error.line == 2 and error.message.startswith("not JSON")
    assert read_document(editor(params="[1]")).problems.fields["params"][0].line is None
    assert read_document(editor(params="")).document["params"] == {}  # type: ignore[index]


def test_a_parameter_problem_marks_the_parameter_s_name() -> None:
    params = '{\n  "fast": {"type": "int", "min": 60, "max": 50, "default": 10}\n}'
    found = problems_of(editor(entry="close > open", params=params, constraints=""))
    (error,) = found.fields["params"]
    assert error.position == "Line 2, column 3"
    assert error.excerpt[1].marked == '"fast"'


def test_an_error_at_the_very_end_marks_the_place_after_the_text() -> None:
    found = problems_of(editor(entry="close >"))
    (error,) = found.fields["entry"]
    assert error.excerpt[0].marked == " " and error.excerpt[0].before == "close >"
    assert excerpt("abc", 3, 1, 2) == ()  # a line the text does not have: no excerpt


def test_request_errors_go_to_their_field_or_to_the_page() -> None:
    values = editor()
    found = rule_problems(
        [
            {"field": "body parameter 'name'", "message": "String should match pattern"},
            {"field": "document", "message": "a strategy document nests at most 8 levels"},
            {"field": "stop_loss", "message": "bad", "span": None, "hint": None},
        ],
        values,
        (1,),
    )
    assert [e.message for e in found.fields["name"]] == [NAME_RULE]
    assert found.general == ["a strategy document nests at most 8 levels"]
    assert found.fields["stop_loss"][0].position == ""


def test_stops_are_left_out_when_empty_and_crlf_is_read_as_newlines() -> None:
    draft = read_document(editor(entry="close >\r\n open", stop_loss="  ", take_profit="pct(0.1)"))
    assert draft.document is not None
    assert "stop_loss" not in draft.document and draft.document["take_profit"] == "pct(0.1)"
    assert draft.document["entry"] == "close >\n open"
    assert draft.document["language"] == LANGUAGE


def test_the_declared_parameters_in_the_order_declared() -> None:
    document = SYSTEM_STRATEGIES["rsi_reversion"]
    rows = param_rows(check_document(document).canonical["params"], document["params"])
    assert [r["name"] for r in rows] == ["period", "lower", "upper"]
    assert rows[1] == {"name": "lower", "type": "float", "min": 0, "max": 100, "default": 30.0}


def test_the_grid_form_runs_the_saved_version_with_the_backtest_form_s_rules() -> None:
    params: dict[str, Any] = check_document(SYSTEM_STRATEGIES["sma_cross"]).canonical["params"]
    defaults = grid_defaults(params, SYMBOLS)
    assert (defaults["p_fast"], defaults["p_slow"], defaults["symbols"]) == ("10", "30", "BTCUSDT")
    typed = {"p_fast": "5:15:5", "p_slow": "20,30", "symbols": "btcusdt", "interval": "1h"}
    typed.update(start="2024-01-01", end="2024-01-03", fee="0.5")  # not on this form: ignored
    body, errors, values = read_grid(typed, params, SYMBOLS, 7, 2)
    assert not errors and body is not None
    assert body["strategy"] == {"id": 7, "version": 2}
    assert body["grid"] == {"fast": [5, 10, 15], "slow": [20, 30]}
    assert body["symbols"] == ["BTCUSDT"] and body["fee"] == 0.001
    assert body["walk_forward"] is None
    assert values["p_fast"] == "5:15:5"
    body, errors, _ = read_grid(
        {**typed, "p_fast": "0.5", "end": "2023-01-01"}, params, SYMBOLS, 7, 2
    )
    assert body is None and set(errors) == {"p_fast", "end"}


class _Assets:
    def url(self, name: str) -> str:
        return f"/static/{name}"


def render(values: dict[str, str], problems: Problems, **extra: Any) -> str:
    env = build_environment(_Assets())  # type: ignore[arg-type]
    context: dict[str, Any] = {
        "title": "Strategies",
        "me": None,
        "csrf_token": "t",
        "nav": [],
        "path": "/strategies",
        "error": None,
        "notice": None,
        "scripts": (),
        "values": values,
        "fields": EDITOR_FIELDS,
        "problems": problems.fields,
        "strategies": [],
        "own": [],
        "system": [{"id": 1, "name": "sma_cross", "visibility": "system"}],
        "opened": None,
        "version": None,
        "readonly": False,
        "declared": None,
        "specs": [],
        "grid_values": {},
        "grid_errors": {},
        "symbols": [],
        "intervals": ("1h",),
        "stored_help": "",
        "grid_schema": {"properties": {}},
        "combinations": None,
        "json_block": json_block,
    }
    context.update(extra)
    return env.get_template("strategies.html").render(**context)


def test_the_page_puts_each_error_under_its_field_as_an_alert_the_field_names() -> None:
    values = editor()
    html = render(values, problems_of(values))
    assert 'aria-describedby="f-entry-help f-entry-error-1" aria-invalid="true"' in html
    assert '<div class="st-rule-error" role="alert" id="f-entry-error-1"' in html
    assert "<strong>Line 1, column 7:</strong> lags look back only: use close[1]" in html
    assert 'close[<mark class="st-mark">-1</mark>] &gt; open' in html
    assert html.count('aria-invalid="true"') == 1
    for _, label in EDITOR_FIELDS:
        assert f">{label}</label>" in html
    assert ">Check</button>" in html and ">Save</button>" in html


def test_a_system_strategy_renders_read_only_with_the_grid_form() -> None:
    document = SYSTEM_STRATEGIES["sma_cross"]
    canonical = check_document(document).canonical
    opened = {"id": 3, "name": "sma_cross", "visibility": "system", "versions": []}
    version = {"version": 1, "document": document, "canonical": canonical}
    html = render(
        form_values(document, "sma_cross"),
        Problems({}, []),
        opened=opened,
        version=version,
        readonly=True,
        declared=param_rows(canonical["params"]),
        specs=[],
        grid_values=grid_defaults(canonical["params"], SYMBOLS),
    )
    assert ">Save</button>" not in html and ">Run grid</button>" in html
    assert html.count(" readonly") == 6
    assert 'href="/strategies?copy=3"' in html
    assert 'action="/strategies/3/run"' in html
    assert 'id="st-grid-data">{"parameters":{"properties":{}}}</script>' in html
