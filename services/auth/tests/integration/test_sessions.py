"""ASVS session checks (V3) against the real auth service, Redis and PostgreSQL,
with the service's clock moved by the test."""

from __future__ import annotations

import asyncpg
import pytest
from redis.asyncio import Redis

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, FakeClock, session_token
from ticktide_common.sessions import hash_secret

pytestmark = pytest.mark.integration

ME = "/api/auth/me"


async def test_login_cookie_has_exactly_the_contract_attributes(
    client: AuthClient, make_user, settings: AuthSettings, redis_client: Redis
) -> None:
    user = await make_user()
    response = await client.login_response(user.username, user.password)
    assert response.status_code == 200
    lines = response.headers.get_list("set-cookie")
    assert len(lines) == 1
    name, _, rest = lines[0].partition("=")
    value, *attributes = [part.strip() for part in rest.split(";")]
    assert name == "__Host-ticktide_session" == settings.session_cookie_name
    assert sorted(attributes) == sorted(
        ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", f"Max-Age={12 * 3600}"]
    )
    assert not any(a.lower().startswith("domain") for a in attributes)
    assert len(value) >= 43  # 256 bits, base64url
    body = response.json()
    assert body["username"] == user.username and body["role"] == "user"
    assert len(body["csrf_token"]) >= 43 and body["csrf_token"] != value
    assert response.headers["cache-control"] == "no-store"
    # Redis keeps the token's hash, never the token.
    prefix = settings.ticktide_redis_prefix
    assert await redis_client.exists(f"{prefix}session:{hash_secret(value)}") == 1
    assert [k async for k in redis_client.scan_iter(match=f"*{value}*")] == []


async def test_session_id_changes_at_every_login_and_replaces_the_held_one(
    client: AuthClient, make_user
) -> None:
    user = await make_user()
    first = await client.login(user.username, user.password)
    second = await client.login(user.username, user.password)
    assert first.token != second.token and first.csrf_token != second.csrf_token
    # Two logins without a cookie are two devices: both stay valid.
    assert (await client.request("GET", ME, first)).status_code == 200
    assert (await client.request("GET", ME, second)).status_code == 200
    # Logging in while holding a session ends that session (no fixation, no leftovers).
    response = await client.login_response(user.username, user.password, session=first)
    third = session_token(response, client.cookie_name)
    assert response.status_code == 200 and third not in (None, first.token, second.token)
    assert (await client.request("GET", ME, first)).status_code == 401
    assert (await client.request("GET", ME, second)).status_code == 200


async def test_logout_ends_the_session_and_expires_the_cookie(
    client: AuthClient, make_user
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    refused = await client.request("POST", "/api/auth/logout", session, csrf=False)
    assert refused.status_code == 403  # logout is state-changing: CSRF applies
    assert (await client.request("GET", ME, session)).status_code == 200
    response = await client.request("POST", "/api/auth/logout", session)
    assert response.status_code == 200
    (cookie,) = response.headers.get_list("set-cookie")
    assert cookie.startswith(f"{client.cookie_name}=") and "Max-Age=0" in cookie
    after = await client.request("GET", ME, session)
    assert after.status_code == 401 and after.json() == {
        "detail": "session expired or ended; log in again"
    }


async def test_password_change_ends_other_sessions_and_keeps_the_current_one(
    client: AuthClient, other_client: AuthClient, make_user
) -> None:
    user = await make_user()
    current = await client.login(user.username, user.password)
    other = await other_client.login(user.username, user.password)
    path = "/api/auth/password"
    wrong = await client.request(
        "POST",
        path,
        current,
        json={"current_password": "not-it-at-all", "new_password": "quite another passphrase"},
    )
    assert wrong.status_code == 403
    short = await client.request(
        "POST", path, current, json={"current_password": user.password, "new_password": "short"}
    )
    assert short.status_code == 422 and "at least 8" in short.json()["detail"]
    new_password = "a brand new passphrase"
    changed = await client.request(
        "POST",
        path,
        current,
        json={"current_password": user.password, "new_password": new_password},
    )
    assert changed.status_code == 200 and changed.json()["other_sessions_ended"] == 1
    assert (await client.request("GET", ME, current)).status_code == 200
    assert (await other_client.request("GET", ME, other)).status_code == 401
    assert (await client.login_response(user.username, user.password)).status_code == 401
    assert (await client.login_response(user.username, new_password)).status_code == 200


async def test_admin_disabling_a_user_ends_sessions_and_tokens(
    client: AuthClient, other_client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    user = await make_user()
    admin = await make_user(role="admin")
    session = await client.login(user.username, user.password)
    created = await client.request(
        "POST", "/api/auth/tokens", session, json={"name": "ci", "password": user.password}
    )
    token = created.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.request("GET", ME, headers=bearer)).status_code == 200

    admin_session = await other_client.login(admin.username, admin.password)
    disabled = await other_client.request(
        "POST", f"/api/admin/users/{user.id}/disable", admin_session
    )
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert (await client.request("GET", ME, session)).status_code == 401
    assert (await client.request("GET", ME, headers=bearer)).status_code == 401
    right = await client.login_response(user.username, user.password)
    wrong = await client.login_response(user.username, "wrong password!")
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    events = await db_pool.fetch(
        "SELECT event_type FROM security_events WHERE user_id = $1 ORDER BY id", user.id
    )
    assert "user_disabled" in [e["event_type"] for e in events]


async def test_idle_timeout_slides_and_expires(
    client: AuthClient, make_user, auth_clock: FakeClock
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    for _ in range(3):  # 87 minutes in all, never 30 idle
        auth_clock.advance(29 * 60)
        assert (await client.request("GET", ME, session)).status_code == 200
    auth_clock.advance(31 * 60)
    assert (await client.request("GET", ME, session)).status_code == 401


async def test_absolute_timeout_ends_an_active_session_after_12_hours(
    client: AuthClient, make_user, auth_clock: FakeClock
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    for _ in range(35):  # active every 20 minutes: 11 h 40 min
        auth_clock.advance(20 * 60)
        assert (await client.request("GET", ME, session)).status_code == 200
    auth_clock.advance(21 * 60)  # 12 h 01 min since login, 21 min idle
    assert (await client.request("GET", ME, session)).status_code == 401


async def test_csrf_is_required_for_cookie_authenticated_changes_only(
    client: AuthClient, make_user
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    path = "/api/auth/tokens"
    body = {"name": "a", "password": user.password}
    missing = await client.request("POST", path, session, csrf=False, json=body)
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.json()["detail"]
    wrong = await client.request(
        "POST", path, session, csrf=False, headers={"X-CSRF-Token": "x" * 43}, json=body
    )
    assert wrong.status_code == 403
    other_session = await client.login(user.username, user.password)
    crossed = await client.request(
        "POST",
        path,
        session,
        csrf=False,
        headers={"X-CSRF-Token": other_session.csrf_token},
        json=body,
    )
    assert crossed.status_code == 403  # another session's token does not do
    assert (await client.request("GET", path, session, csrf=False)).status_code == 200
    me = await client.request("GET", ME, session, csrf=False)
    assert me.json()["csrf_token"] == session.csrf_token
    made = await client.request("POST", path, session, json=body)
    assert made.status_code == 201
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    by_token = await client.request("POST", "/api/auth/logout", headers=bearer)
    assert by_token.status_code == 200  # Bearer requests need no CSRF token
    assert (await client.request("GET", ME, headers=bearer)).json()["csrf_token"] is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Cookie": "__Host-ticktide_session=not-a-session"},
        {"Cookie": "__Host-ticktide_session=" + "a" * 5000},
        {"Authorization": "Bearer ttk_not-a-token"},
        {"Authorization": "Bearer not-even-prefixed"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
)
async def test_missing_or_bad_credentials_answer_401(
    client: AuthClient, headers: dict[str, str]
) -> None:
    response = await client.request("GET", ME, headers=headers)
    assert response.status_code == 401 and isinstance(response.json()["detail"], str)
