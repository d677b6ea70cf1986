"""The gateway as the door to the auth service (a real HTTP server standing in
for it, echoing what it receives): requests pass through with method, path,
query, body and headers, the client's IP in X-Forwarded-For; answers come back
with status, body and every Set-Cookie. `/api/openapi.json` merges auth's
document, and says so when auth is away."""

from __future__ import annotations

import httpx
import pytest

from ticktide_common.testing.proxy import TEST_PROXY_SECRET, trusted_hop
from ticktide_gateway.openapi_doc import AUTH_MISSING_NOTE

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/auth/login"),
        ("GET", "/api/auth/me"),
        ("DELETE", "/api/auth/tokens/17"),
        ("GET", "/api/admin/users"),
        ("PATCH", "/api/admin/users/5"),
        ("PUT", "/api/admin/users/5/role"),
        ("GET", "/api/admin/security-events"),
        ("GET", "/api/admin/activity"),
    ],
)
async def test_auth_paths_are_forwarded_unchanged_without_a_session_check(
    anonymous_api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous_api.request(
        method,
        path,
        params=[("page", "2"), ("tag", "a"), ("tag", "b")],
        content=b'{"username": "alice", "password": "p\\u00e4ss"}',
        headers={
            "Content-Type": "application/json",
            "Cookie": "__Host-ticktide_session=abc",
            "X-CSRF-Token": "csrf-123",
            "Authorization": "Bearer ttk_x",
            "User-Agent": "proxy-test",
            **trusted_hop("203.0.113.9"),  # as nginx sends it
            "X-Request-ID": "req-42",
        },
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert (echo["method"], echo["path"], echo["query"]) == (method, path, "page=2&tag=a&tag=b")
    assert echo["body"] == '{"username": "alice", "password": "p\\u00e4ss"}'
    sent = echo["headers"]
    assert sent["cookie"] == "__Host-ticktide_session=abc"
    assert sent["x-csrf-token"] == "csrf-123"
    assert sent["authorization"] == "Bearer ttk_x"
    assert sent["user-agent"] == "proxy-test"
    assert sent["content-type"] == "application/json"
    # The gateway trusts X-Forwarded-For only with the proxy secret, as nginx sends
    # it; it passes on the client it determined, with the secret for auth.
    assert sent["x-forwarded-for"] == "203.0.113.9"
    assert sent["x-ticktide-proxy-secret"] == TEST_PROXY_SECRET
    assert sent["x-request-id"] == "req-42"
    assert sent["host"] != "testserver" and "127.0.0.1" in sent["host"]
    # Every Set-Cookie comes back, unchanged, with auth's other headers.
    assert response.headers.get_list("set-cookie") == [
        "first=1; Path=/; HttpOnly",
        "second=2; Path=/; Secure",
    ]
    assert response.headers["x-auth-echo"] == "yes"
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers.get_list("date")) == 1


async def test_auth_status_passes_through_and_a_request_id_is_made(
    anonymous_api: httpx.AsyncClient,
) -> None:
    response = await anonymous_api.get("/api/auth/teapot")
    assert response.status_code == 418
    assert len(response.json()["headers"]["x-request-id"]) == 32


async def test_oversized_body_is_413_not_forwarded(anonymous_api: httpx.AsyncClient) -> None:
    response = await anonymous_api.post("/api/auth/login", content=b"x" * (65 * 1024))
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_auth_unreachable_is_503(
    anonymous_api: httpx.AsyncClient,
    stub_services,  # type: ignore[no-untyped-def]
) -> None:
    auth = stub_services["auth"]
    auth.stop()
    try:
        response = await anonymous_api.post("/api/auth/login", json={"username": "a"})
        assert response.status_code == 503
        assert response.json() == {"detail": "the auth service is unavailable; try again shortly"}

        document = (await anonymous_api.get("/api/openapi.json")).json()
        assert AUTH_MISSING_NOTE in document["info"]["description"]
        assert "/api/crypto/prices" in document["paths"]
        assert "/api/auth/login" not in document["paths"]
    finally:
        auth.start()
    assert (await anonymous_api.get("/api/auth/me")).status_code == 200


async def test_openapi_merges_auth_and_declares_the_security_schemes(
    anonymous_api: httpx.AsyncClient,
) -> None:
    response = await anonymous_api.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert "/api/auth/login" in paths and "/api/crypto/prices" in paths
    assert "/health" not in paths  # auth's own paths outside /api are not the gateway's
    assert not any(p.startswith(("/api/auth/{", "/api/admin/users/{path")) for p in paths)

    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-ticktide_session",
        "description": schemes["session"]["description"],
    }
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    for path, method in [
        ("/api/crypto/prices", "get"),
        ("/api/crypto/quality", "get"),
        ("/api/admin/ingest/crypto/backfill", "post"),
    ]:
        assert {"session": []} in paths[path][method]["security"]
        assert {"bearer": []} in paths[path][method]["security"]
    assert "security" not in paths["/api/health"]["get"]

    # Both services' 422 bodies are the shared ErrorBody, not FastAPI's HTTPValidationError
    # (auth's, renamed by the merge, included); protected operations document 401.
    schemas = document["components"]["schemas"]
    assert not {"HTTPValidationError", "auth_HTTPValidationError"} & set(schemas)
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    login = paths["/api/auth/login"]["post"]
    assert login["responses"]["422"]["content"]["application/json"]["schema"] == error_body
    prices = paths["/api/crypto/prices"]["get"]["responses"]
    assert prices["401"]["content"]["application/json"]["schema"] == error_body
    assert "403" in paths["/api/crypto/quality"]["get"]["responses"]
    assert schemas["ErrorBody"]["required"] == ["detail"]
    assert "Login" in schemas
    assert (await anonymous_api.get("/api/docs")).status_code == 200
