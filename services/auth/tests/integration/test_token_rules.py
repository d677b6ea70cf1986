"""Issue 10's token and audit findings, each reproduced against the real auth
server: tokens die with the password (own change and admin reset), a token can
neither mint tokens nor revoke its owner's other tokens, a per-user cap on live
tokens, expiry, the current password checked (and throttled) on creation, and
security events that still name a deleted user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, Session
from ticktide_common.testing.users import create_test_token

pytestmark = pytest.mark.integration

ME = "/api/auth/me"
TOKENS = "/api/auth/tokens"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_token(client: AuthClient, session: Session, password: str, **extra: object) -> str:
    made = await client.request(
        "POST", TOKENS, session, json={"name": "t", "password": password, **extra}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def test_own_password_change_revokes_every_token(client: AuthClient, make_user) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    tokens = [await new_token(client, session, user.password) for _ in range(2)]
    assert (await client.request("GET", ME, headers=bearer(tokens[0]))).status_code == 200
    changed = await client.request(
        "POST",
        "/api/auth/password",
        session,
        json={"current_password": user.password, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tokens_revoked"] == 2
    for token in tokens:
        answer = await client.request("GET", ME, headers=bearer(token))
        assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    listed = (await client.request("GET", TOKENS, session)).json()
    assert {t["state"] for t in listed} == {"revoked"}


async def test_an_admin_password_reset_revokes_every_token(
    client: AuthClient, other_client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    user, admin = await make_user(), await make_user(role="admin")
    session = await client.login(user.username, user.password)
    token = await new_token(client, session, user.password)
    admin_session = await other_client.login(admin.username, admin.password)
    reset = await other_client.request(
        "PATCH", f"/api/admin/users/{user.id}", admin_session, json={"password": "set by the admin"}
    )
    assert reset.status_code == 200, reset.text
    assert (await client.request("GET", ME, headers=bearer(token))).status_code == 401
    details = await db_pool.fetchval(
        "SELECT details FROM security_events WHERE user_id = $1 AND event_type = "
        "'password_changed' ORDER BY id DESC LIMIT 1",
        user.id,
    )
    assert '"tokens_revoked": 1' in details
    # An admin's reset is held to the same policy as the user's own password.
    weak = await other_client.request(
        "PATCH", f"/api/admin/users/{user.id}", admin_session, json={"password": "password1"}
    )
    assert weak.status_code == 422 and "common" in weak.json()["detail"]


async def test_a_token_cannot_mint_tokens(client: AuthClient, make_user, db_pool) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    token = await new_token(client, session, user.password)
    before = await db_pool.fetchval("SELECT count(*) FROM api_tokens WHERE user_id = $1", user.id)
    for _ in range(3):
        minted = await client.request(
            "POST", TOKENS, headers=bearer(token), json={"name": "more", "password": user.password}
        )
        assert minted.status_code == 403
        assert "API tokens cannot create API tokens" in minted.json()["detail"]
    after = await db_pool.fetchval("SELECT count(*) FROM api_tokens WHERE user_id = $1", user.id)
    assert after == before


async def test_a_token_revokes_only_itself(client: AuthClient, make_user) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    first = await client.request(
        "POST", TOKENS, session, json={"name": "a", "password": user.password}
    )
    second = await client.request(
        "POST", TOKENS, session, json={"name": "b", "password": user.password}
    )
    first_token, second_id = first.json()["token"], second.json()["id"]
    listed = await client.request("GET", TOKENS, headers=bearer(first_token))
    assert listed.status_code == 200 and len(listed.json()) == 2  # listing stays allowed
    other = await client.request("DELETE", f"{TOKENS}/{second_id}", headers=bearer(first_token))
    assert other.status_code == 403 and "only itself" in other.json()["detail"]
    second_token = second.json()["token"]
    assert (await client.request("GET", ME, headers=bearer(second_token))).status_code == 200
    itself = await client.request(
        "DELETE", f"{TOKENS}/{first.json()['id']}", headers=bearer(first_token)
    )
    assert itself.status_code == 204
    assert (await client.request("GET", ME, headers=bearer(first_token))).status_code == 401


async def test_live_tokens_are_capped_per_user(
    client: AuthClient, make_user, db_pool: asyncpg.Pool, settings: AuthSettings
) -> None:
    cap = settings.api_token_max_live_per_user
    assert cap == 20
    user = await make_user()
    session = await client.login(user.username, user.password)
    for _ in range(cap - 1):
        await create_test_token(db_pool, user.id)
    await new_token(client, session, user.password)  # the 20th
    body = {"name": "one too many", "password": user.password}
    refused = await client.request("POST", TOKENS, session, json=body)
    assert refused.status_code == 409
    assert f"already have {cap} live API tokens" in refused.json()["detail"]
    # Revoked and expired tokens are not live: each frees a place.
    oldest = await db_pool.fetchval("SELECT min(id) FROM api_tokens WHERE user_id = $1", user.id)
    assert (await client.request("DELETE", f"{TOKENS}/{oldest}", session)).status_code == 204
    assert (await client.request("POST", TOKENS, session, json=body)).status_code == 201
    await db_pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = "
        "(SELECT max(id) FROM api_tokens WHERE user_id = $1)",
        user.id,
    )
    assert (await client.request("POST", TOKENS, session, json=body)).status_code == 201
    assert (await client.request("POST", TOKENS, session, json=body)).status_code == 409


async def test_tokens_expire(client: AuthClient, make_user, db_pool: asyncpg.Pool) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    default = await client.request(
        "POST", TOKENS, session, json={"name": "d", "password": user.password}
    )
    week = await client.request(
        "POST", TOKENS, session, json={"name": "w", "password": user.password, "expires_in_days": 7}
    )
    now = datetime.now(UTC)
    for answer, days in ((default, 90), (week, 7)):
        expires = datetime.fromisoformat(answer.json()["expires_at"])
        assert abs(expires - (now + timedelta(days=days))) < timedelta(minutes=5)
    token = week.json()["token"]
    assert (await client.request("GET", ME, headers=bearer(token))).status_code == 200
    await db_pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        week.json()["id"],
    )
    expired = await client.request("GET", ME, headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    listed = {t["name"]: t for t in (await client.request("GET", TOKENS, session)).json()}
    assert listed["w"]["state"] == "expired" and listed["d"]["state"] == "live"
    assert {"created_at", "expires_at", "last_used_at", "revoked_at"} <= set(listed["w"])
    assert listed["w"]["last_used_at"] is not None  # it was used once


@pytest.mark.parametrize("days", [0, -1, 366, 36500, 10**30, "x", 1.5])
async def test_an_expiry_out_of_bounds_is_422(client: AuthClient, make_user, days: object) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    body = {"name": "x", "password": user.password, "expires_in_days": days}
    refused = await client.request("POST", TOKENS, session, json=body)
    assert refused.status_code == 422, refused.text
    assert "expires_in_days" in refused.json()["detail"]


async def test_creation_needs_the_current_password_and_is_throttled(
    client: AuthClient, make_user, db_pool: asyncpg.Pool, settings: AuthSettings
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    missing = await client.request("POST", TOKENS, session, json={"name": "x"})
    assert missing.status_code == 422 and "password" in missing.json()["detail"]
    wrong_body = {"name": "x", "password": "not the password"}
    for _ in range(settings.login_max_failures):
        wrong = await client.request("POST", TOKENS, session, json=wrong_body)
        assert wrong.status_code == 403 and wrong.json()["detail"] == "current password is wrong"
    # Counted like failed logins: now even the right password waits.
    right = {"name": "x", "password": user.password}
    throttled = await client.request("POST", TOKENS, session, json=right)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert (
        await db_pool.fetchval("SELECT count(*) FROM api_tokens WHERE user_id = $1", user.id) == 0
    )
    failures = await db_pool.fetchval(
        "SELECT count(*) FROM security_events WHERE user_id = $1 AND event_type = "
        "'token_create_failed'",
        user.id,
    )
    assert failures == settings.login_max_failures


async def test_security_events_still_name_a_deleted_user(
    client: AuthClient, other_client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    user, admin = await make_user(), await make_user(role="admin")
    admin_session = await client.login(admin.username, admin.password)
    await other_client.login_response(user.username, "not the password")
    promoted = await client.request(
        "PUT", f"/api/admin/users/{user.id}/role", admin_session, json={"role": "admin"}
    )
    assert promoted.status_code == 200
    deleted = await client.request("DELETE", f"/api/admin/users/{user.id}", admin_session)
    assert deleted.status_code == 204
    rows = await db_pool.fetch(
        "SELECT event_type, user_id, username FROM security_events "
        "WHERE details->>'target_user_id' = $1 OR username = $2 ORDER BY id",
        str(user.id),
        user.username,
    )
    kinds = [r["event_type"] for r in rows]
    assert {"user_created", "login_failed", "role_changed", "user_deleted"} <= set(kinds)
    assert {r["username"] for r in rows} == {user.username}
    assert {r["user_id"] for r in rows} == {None}  # the id is gone with the row
    listed = await client.request(
        "GET", "/api/admin/security-events", admin_session, params={"username": user.username}
    )
    assert listed.status_code == 200
    shown = listed.json()
    assert {e["event_type"] for e in shown} >= {"role_changed", "user_deleted"}
    assert {e["username"] for e in shown} == {user.username}
