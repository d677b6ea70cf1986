"""The strategy routes' pure parts: the nesting bound before the checker, the 422
body (CONTRACT §2's `errors`, and `detail`), the seed's documents, and the
OpenAPI document's 422 of these routes, which must describe both the rule
language's errors and the usual request errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

from ticktide_common.rules import LANGUAGE, RuleErrors
from ticktide_common.rules.system import SYSTEM_STRATEGIES
from ticktide_gateway.app import create_app
from ticktide_gateway.error_handlers import describe_validation_errors
from ticktide_gateway.openapi_doc import admin_operations
from ticktide_gateway.openapi_errors import document_errors
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.strategies.schemas import DOCUMENT_SCHEMA, NAME_PATTERN
from ticktide_gateway.strategies.service import (
    MAX_DOCUMENT_DEPTH,
    check_strategy,
    rejection_body,
    system_versions,
)

DOCUMENT: dict[str, Any] = {
    "language": LANGUAGE,
    "params": {"n": {"type": "int", "min": 2, "max": 50, "default": 10}},
    "entry": "close > highest(high, n)[1]",
    "exit": "close[-1] < 3",
}


def _rejected(document: Any) -> dict[str, Any]:
    with pytest.raises(RuleErrors) as caught:
        check_strategy(document)
    return rejection_body(caught.value)


def test_a_rejection_lists_each_error_with_its_span_and_a_detail() -> None:
    body = _rejected(DOCUMENT)
    assert body["errors"] == [
        {
            "code": "lookahead",
            "message": "lags look back only: use close[1]",
            "field": "exit",
            "span": {"line": 1, "column": 7, "end_column": 9},
            "hint": body["errors"][0]["hint"],
        }
    ]
    assert body["detail"] == "exit: lags look back only: use close[1]"


def test_deep_nesting_is_refused_before_the_checker() -> None:
    nested: Any = 1
    for _ in range(100_000):  # far deeper than any recursion could follow
        nested = [nested]
    body = _rejected({**DOCUMENT, "entry": nested})
    assert body["errors"][0]["code"] == "document"
    assert str(MAX_DOCUMENT_DEPTH) in body["detail"]


def test_the_depth_bound_leaves_room_for_every_valid_document() -> None:
    shallow: Any = "x"
    for _ in range(MAX_DOCUMENT_DEPTH - 1):
        shallow = [shallow]
    body = _rejected({**DOCUMENT, "entry": shallow})
    assert body["errors"][0]["code"] != "document"  # the checker's own verdict
    assert set(system_versions()) == set(SYSTEM_STRATEGIES)


def test_a_valid_document_is_its_version() -> None:
    document = {**DOCUMENT, "exit": "close < lowest(low, n)[1]"}
    checked, version = check_strategy(document)
    assert version.source is document
    assert version.canonical == checked.canonical and version.shape_hash == checked.shape_hash
    assert version.language == LANGUAGE


@pytest.fixture(scope="module")
def api_document() -> dict[str, Any]:
    app = create_app(GatewaySettings(_env_file=None))  # type: ignore[call-arg]
    return document_errors(app.openapi(), admin_operations(app))


def _validator(api_document: dict[str, Any], method: str, path: str, status: str) -> Any:
    schema = api_document["paths"][path][method]["responses"][status]["content"][
        "application/json"
    ]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": api_document["components"]})


@pytest.mark.parametrize("path", ["/api/strategies/validate", "/api/strategies"])
def test_the_422_documented_is_both_kinds_of_answer(
    api_document: dict[str, Any], path: str
) -> None:
    validator = _validator(api_document, "post", path, "422")
    rule_errors = _rejected({**DOCUMENT, "language": "x", "params": 3})
    assert any(error["field"] is None or error["span"] is None for error in rule_errors["errors"])
    detail, items = describe_validation_errors(
        [{"loc": ("body", "name"), "msg": "String should match pattern"}]
    )
    for body in (rule_errors, _rejected(DOCUMENT), {"detail": detail, "errors": items}):
        errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(body)))]
        assert not errors, (body, errors)
    assert not validator.is_valid({"errors": []})  # `detail` is always there


def test_the_documents_schema_accepts_the_system_strategies(api_document: dict[str, Any]) -> None:
    schema = api_document["components"]["schemas"]["ValidateRequest"]["properties"]["document"]
    assert schema == DOCUMENT_SCHEMA
    validator = jsonschema_rs.validator_for(schema)
    for document in SYSTEM_STRATEGIES.values():
        assert validator.is_valid(document), document
    assert not validator.is_valid({**DOCUMENT, "extra": 1})
    assert not validator.is_valid({**DOCUMENT, "entry": 5})


def test_names() -> None:
    import re

    ok = ["sma_cross", "My RSI (14) v2", "a", "x-y+z.1:2,3"]
    refused = ["", " a", "a ", "tab\tname", "new\nline", "é", "a/b"]
    assert all(re.fullmatch(NAME_PATTERN, name) for name in ok)
    assert not any(re.fullmatch(NAME_PATTERN, name) for name in refused)
