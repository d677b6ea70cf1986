"""What the auth service answers is what its OpenAPI document says (issue 10,
schemathesis' findings in auth): a 405 lists every method of the path, a
username with a trailing newline is refused like the published pattern refuses
it, the admin lists' time parameters take ISO-8601 text only (not Unix seconds),
and the served document declares this deployment's password and token bounds."""

from __future__ import annotations

from typing import Any

import pytest

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, Session, unique_name

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/admin/users/1", "DELETE, GET, PATCH"),
        ("PUT", "/api/admin/users/1", "DELETE, GET, PATCH"),
        ("PUT", "/api/auth/tokens", "GET, POST"),
        ("GET", "/api/auth/tokens/1", "DELETE"),
        ("GET", "/api/auth/register", "POST"),
    ],
)
async def test_a_405_lists_every_method_of_the_path(
    client: AuthClient, method: str, path: str, allow: str
) -> None:
    """It listed the first route's only: `OPTIONS /api/admin/users/1` -> `Allow: GET`."""
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_a_username_with_a_trailing_newline_is_refused(client: AuthClient) -> None:
    name = unique_name("nl")
    body = {"username": f"{name}\n", "email": f"{name}@example.com", "password": "long enough pw"}
    response = await client.request("POST", "/api/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("username must be 3-32 characters")


async def admin_session(client: AuthClient, make_user: Any) -> Session:
    admin = await make_user(role="admin")
    return await client.login(admin.username, admin.password)


@pytest.mark.parametrize("path", ["/api/admin/security-events", "/api/admin/activity"])
@pytest.mark.parametrize(
    "params",
    [
        {"until": "0.5"},
        {"since": "1700000000"},
        {"before": "1700000000", "before_id": "5"},
        {"since": "-1"},
    ],
)
async def test_a_number_is_not_a_time(
    client: AuthClient, make_user: Any, path: str, params: dict[str, str]
) -> None:
    """pydantic's lax mode read a number as Unix seconds: `until=0.5` -> 200 []."""
    session = await admin_session(client, make_user)
    response = await client.request("GET", path, session, params=params)
    assert response.status_code == 422, response.text
    field = next(iter(params))
    assert f"query field '{field}'" in response.json()["detail"]
    assert "ISO-8601" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/admin/security-events", "/api/admin/activity"])
async def test_iso_times_still_filter(client: AuthClient, make_user: Any, path: str) -> None:
    session = await admin_session(client, make_user)
    params = {
        "since": "2024-01-01T00:00:00Z",
        "until": "2100-01-01",
        "before": "2099-12-31T23:00:00+02:00",
        "before_id": "9",
    }
    response = await client.request("GET", path, session, params=params)
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


async def test_the_served_document_declares_the_settings_bounds(
    client: AuthClient, settings: AuthSettings
) -> None:
    document = (await client.request("GET", "/api/auth/openapi.json")).json()
    schemas = document["components"]["schemas"]
    register = schemas["RegisterRequest"]["properties"]
    assert (register["password"]["minLength"], register["password"]["maxLength"]) == (
        settings.password_min_length,
        settings.password_max_length,
    )
    assert (register["username"]["minLength"], register["username"]["maxLength"]) == (3, 32)
    assert register["username"]["pattern"] == "^[A-Za-z0-9_.-]+$"
    assert register["email"]["format"] == "idn-email" and register["email"]["maxLength"] == 254
    days = schemas["TokenCreateRequest"]["properties"]["expires_in_days"]["anyOf"][0]
    assert days["maximum"] == settings.api_token_max_days


async def test_every_route_that_answers_409_documents_it(client: AuthClient) -> None:
    """A second POST /api/admin/users of a name answered an undocumented 409."""
    paths = (await client.request("GET", "/api/auth/openapi.json")).json()["paths"]
    for method, path in [
        ("post", "/api/admin/users"),
        ("patch", "/api/admin/users/{user_id}"),
        ("delete", "/api/admin/users/{user_id}"),
        ("post", "/api/admin/users/{user_id}/disable"),
        ("put", "/api/admin/users/{user_id}/role"),
        ("post", "/api/auth/tokens"),
    ]:
        assert "409" in paths[path][method]["responses"], (method, path)
