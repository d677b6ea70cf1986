"""Merging auth's OpenAPI document into the gateway's (pure)."""

from __future__ import annotations

from typing import Any

from ticktide_gateway.openapi_doc import merge_documents


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


OWN: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Ticktide API"},
    "paths": {"/api/health": {"get": {}}, "/api/crypto/prices": {"get": {"x": ref("Shared")}}},
    "components": {
        "schemas": {"Shared": {"type": "string"}, "Same": {"type": "integer"}},
        "securitySchemes": {"session": {"type": "apiKey"}},
    },
}


def test_paths_and_components_are_added_and_own_ones_kept() -> None:
    auth = {
        "paths": {
            "/api/auth/login": {"post": {"body": ref("Login"), "same": ref("Same")}},
            "/api/health": {"get": {"from": "auth"}},
            "/openapi.json": {"get": {}},
        },
        "components": {
            "schemas": {"Login": {"type": "object"}, "Same": {"type": "integer"}},
            "securitySchemes": {"session": {"type": "apiKey"}},
        },
    }
    merged = merge_documents(OWN, auth)
    assert list(merged["paths"]) == ["/api/auth/login", "/api/crypto/prices", "/api/health"]
    assert merged["paths"]["/api/health"] == {"get": {}}  # the gateway's own wins
    assert merged["paths"]["/api/auth/login"]["post"] == {"body": ref("Login"), "same": ref("Same")}
    assert merged["components"]["schemas"] == {
        "Shared": {"type": "string"},
        "Same": {"type": "integer"},
        "Login": {"type": "object"},
    }
    assert OWN["paths"].keys() == {"/api/health", "/api/crypto/prices"}  # not mutated


def test_a_clashing_component_is_renamed_with_its_references() -> None:
    auth = {
        "paths": {"/api/auth/me": {"get": {"schema": {"items": [ref("Shared")]}}}},
        "components": {
            "schemas": {
                "Shared": {"type": "object", "properties": {"inner": ref("Shared")}},
            }
        },
    }
    merged = merge_documents(OWN, auth)
    schemas = merged["components"]["schemas"]
    assert schemas["Shared"] == {"type": "string"}
    assert schemas["auth_Shared"] == {"type": "object", "properties": {"inner": ref("auth_Shared")}}
    assert merged["paths"]["/api/auth/me"]["get"]["schema"] == {"items": [ref("auth_Shared")]}
    assert merged["paths"]["/api/crypto/prices"]["get"]["x"] == ref("Shared")


def test_an_empty_auth_document_changes_nothing() -> None:
    assert merge_documents(OWN, {}) == {**OWN, "paths": dict(sorted(OWN["paths"].items()))}
