"""The error answers added to the merged OpenAPI document by rule (pure)."""

from __future__ import annotations

from typing import Any

from ticktide_gateway.openapi_errors import ERROR_BODY, document_errors

ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_BODY}"}
FASTAPI_422 = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
SECURED = [{"session": []}, {"bearer": []}]


def operation(**extra: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "ok"}}, **extra}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/api/health": {"get": operation()},
        "/api/crypto/prices": {
            "get": operation(
                security=SECURED,
                parameters=[{"name": "symbol", "in": "query"}],
                responses={
                    "200": {"description": "ok"},
                    "404": {"description": "unknown symbol"},
                    "422": FASTAPI_422,
                },
            )
        },
        "/api/crypto/quality": {
            "get": operation(security=SECURED, parameters=[{"name": "symbol", "in": "query"}])
        },
        "/api/crypto/backtest/batch/{batch_id}": {
            "parameters": [{"name": "batch_id", "in": "path"}],
            "delete": operation(security=SECURED),
        },
        "/api/crypto/backtest/run": {
            "post": operation(
                security=SECURED,
                requestBody={"content": {"application/json": {"schema": {}}}},
                responses={"200": {"description": "ok"}, "429": {"description": "busy"}},
            )
        },
        "/api/auth/login": {
            "post": operation(requestBody={"content": {"application/json": {"schema": {}}}})
        },
        "/api/admin/users": {"get": operation(security=SECURED)},
        "/health": {"get": operation(security=SECURED)},
    },
    "components": {
        "schemas": {
            "HTTPValidationError": {"type": "object"},
            "ValidationError": {"type": "object"},
            "auth_HTTPValidationError": {"type": "object"},
        }
    },
}


def statuses(document: dict[str, Any], path: str, method: str) -> list[str]:
    return list(document["paths"][path][method]["responses"])


def documented() -> dict[str, Any]:
    return document_errors(
        DOCUMENT,
        admin_operations={("get", "/api/crypto/quality")},
        proxied_paths=["/api/auth/login"],
    )


def test_each_operation_gets_the_statuses_its_rules_give() -> None:
    document = documented()
    assert statuses(document, "/api/health", "get") == ["200"]
    assert statuses(document, "/api/crypto/prices", "get") == ["200", "401", "404", "422", "503"]
    # Admin: 403 even for a read; a symbol is looked up: 404.
    assert statuses(document, "/api/crypto/quality", "get") == [
        "200",
        "401",
        "403",
        "404",
        "422",
        "503",
    ]
    # No parameters: no 404, no 422.
    assert statuses(document, "/api/admin/users", "get") == ["200", "401", "403", "503"]
    # A write (CSRF: 403) with a path parameter declared on the path item.
    assert statuses(document, "/api/crypto/backtest/batch/{batch_id}", "delete") == [
        "200",
        "401",
        "403",
        "404",
        "422",
        "503",
    ]
    assert statuses(document, "/api/crypto/backtest/run", "post") == [
        "200",
        "400",
        "401",
        "403",
        "413",
        "422",
        "429",
        "503",
    ]
    # Public, but it checks credentials, is throttled and is forwarded to auth.
    assert statuses(document, "/api/auth/login", "post") == [
        "200",
        "400",
        "401",
        "413",
        "422",
        "429",
        "503",
    ]
    # Outside /api: not the API's.
    assert statuses(document, "/health", "get") == ["200"]


def test_error_answers_share_the_error_body_and_fastapi_validation_goes() -> None:
    document = documented()
    prices = document["paths"]["/api/crypto/prices"]["get"]["responses"]
    for status in ("401", "404", "422", "503"):
        assert prices[status]["content"]["application/json"]["schema"] == ERROR_REF, status
    assert prices["404"]["description"] == "unknown symbol"  # the route's own words stay
    assert "Retry-After" in prices["503"]["headers"]
    run = document["paths"]["/api/crypto/backtest/run"]["post"]["responses"]
    assert run["429"]["description"] == "busy" and "Retry-After" in run["429"]["headers"]
    schemas = document["components"]["schemas"]
    assert set(schemas) == {"ErrorBody", "FieldError"}
    assert schemas["ErrorBody"]["properties"]["detail"] == {"type": "string", "title": "Detail"}
    # The input is left as it was.
    assert "HTTPValidationError" in DOCUMENT["components"]["schemas"]
    assert list(DOCUMENT["paths"]["/api/health"]["get"]["responses"]) == ["200"]


def test_a_route_answer_with_its_own_body_is_kept() -> None:
    own = {"description": "busy", "content": {"application/json": {"schema": {"type": "object"}}}}
    document = document_errors(
        {"paths": {"/api/x": {"get": operation(security=SECURED, responses={"503": own})}}},
        admin_operations=(),
    )
    assert document["paths"]["/api/x"]["get"]["responses"]["503"]["content"] == own["content"]
