"""API tokens, the admin user API, role checks found by walking the OpenAPI
document, last-admin protection, the logs, and activity on the bus."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, AuthServer, Session, unique_name
from ticktide_common.messages import UserActivityV1
from ticktide_common.sessions import hash_secret
from ticktide_common.testing.events import EventProbe
from ticktide_common.topology import Topology

pytestmark = pytest.mark.integration

PUBLIC = {("POST", "/api/auth/login"), ("POST", "/api/auth/register")}


async def routes(server: AuthServer) -> list[tuple[str, str]]:
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{server.url}/api/auth/openapi.json")).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in document["paths"].items()
        for method in operations
    ]
    assert len(found) >= 15, found
    return found


async def test_every_route_but_login_and_register_needs_a_credential(
    client: AuthClient, auth_server: AuthServer
) -> None:
    for method, path in await routes(auth_server):
        if (method, path) in PUBLIC:
            continue
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)


async def test_every_admin_route_refuses_a_user(
    client: AuthClient, make_user, auth_server: AuthServer
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    body = {"name": "t", "password": user.password}
    token = (await client.request("POST", "/api/auth/tokens", session, json=body)).json()
    admin_routes = [r for r in await routes(auth_server) if r[1].startswith("/api/admin/")]
    assert len(admin_routes) >= 9
    for method, path in admin_routes:
        by_cookie = await client.request(method, path, session, json={})
        by_token = await client.request(
            method, path, headers={"Authorization": f"Bearer {token['token']}"}, json={}
        )
        assert by_cookie.status_code == by_token.status_code == 403, (method, path)


async def test_token_lifecycle(
    client: AuthClient, other_client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    user, stranger = await make_user(), await make_user()
    session = await client.login(user.username, user.password)
    created = await client.request(
        "POST", "/api/auth/tokens", session, json={"name": "laptop", "password": user.password}
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "token", "created_at", "expires_at"}
    assert body["name"] == "laptop"
    token = body["token"]
    assert token.startswith("ttk_") and len(token) >= 4 + 43
    stored = await db_pool.fetchval("SELECT token_hash FROM api_tokens WHERE id = $1", body["id"])
    assert stored == hash_secret(token)

    listed = await client.request("GET", "/api/auth/tokens", session)
    assert [t["id"] for t in listed.json()] == [body["id"]] and token not in listed.text
    bearer = {"Authorization": f"Bearer {token}"}
    me = await other_client.request("GET", "/api/auth/me", headers=bearer)
    assert me.json()["username"] == user.username

    stranger_session = await other_client.login(stranger.username, stranger.password)
    theirs = await other_client.request(
        "DELETE", f"/api/auth/tokens/{body['id']}", stranger_session
    )
    assert theirs.status_code == 404
    revoked = await client.request("DELETE", f"/api/auth/tokens/{body['id']}", session)
    assert revoked.status_code == 204
    assert (await other_client.request("GET", "/api/auth/me", headers=bearer)).status_code == 401
    again = await client.request("DELETE", f"/api/auth/tokens/{body['id']}", session)
    assert again.status_code == 404
    listed = (await client.request("GET", "/api/auth/tokens", session)).json()
    assert listed[0]["revoked_at"] is not None and listed[0]["state"] == "revoked"
    kinds = await db_pool.fetch(
        "SELECT event_type FROM security_events WHERE user_id = $1 ORDER BY id", user.id
    )
    assert [k["event_type"] for k in kinds][-2:] == ["token_created", "token_revoked"]


async def test_admin_manages_users(client: AuthClient, other_client: AuthClient, make_user) -> None:
    admin = await make_user(role="admin")
    session = await client.login(admin.username, admin.password)
    name = unique_name("managed")
    new = {"username": name, "email": f"{name}@example.com", "password": "initial password"}
    created = await client.request("POST", "/api/admin/users", session, json=new)
    assert created.status_code == 201 and created.json()["role"] == "user"
    user_id = created.json()["id"]
    assert (await client.request("POST", "/api/admin/users", session, json=new)).status_code == 409
    listed = await client.request("GET", "/api/admin/users?limit=1000", session)
    assert name in [u["username"] for u in listed.json()]
    assert "password" not in listed.text

    managed = await other_client.login(name, "initial password")
    patched = await client.request(
        "PATCH",
        f"/api/admin/users/{user_id}",
        session,
        json={"email": f"NEW-{name}@Example.COM", "password": "set by the admin"},
    )
    assert patched.status_code == 200 and patched.json()["email"] == f"NEW-{name}@example.com"
    assert (await other_client.request("GET", "/api/auth/me", managed)).status_code == 401
    managed = await other_client.login(name, "set by the admin")
    promoted = await client.request(
        "PUT", f"/api/admin/users/{user_id}/role", session, json={"role": "admin"}
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert (await other_client.request("GET", "/api/auth/me", managed)).status_code == 401
    managed = await other_client.login(name, "set by the admin")
    assert (await other_client.request("GET", "/api/admin/users", managed)).status_code == 200

    typo = await client.request(
        "PATCH", f"/api/admin/users/{user_id}", session, json={"rolle": "user"}
    )
    assert typo.status_code == 422
    bad_role = await client.request(
        "PUT", f"/api/admin/users/{user_id}/role", session, json={"role": "root"}
    )
    assert bad_role.status_code == 422
    deleted = await client.request("DELETE", f"/api/admin/users/{user_id}", session)
    assert deleted.status_code == 204
    assert (await other_client.request("GET", "/api/auth/me", managed)).status_code == 401
    gone = await client.request("GET", f"/api/admin/users/{user_id}", session)
    assert gone.status_code == 404
    assert (
        await client.request("DELETE", f"/api/admin/users/{user_id}", session)
    ).status_code == 404


@pytest.fixture
async def sole_admin(make_user, db_pool: asyncpg.Pool) -> AsyncIterator[int]:
    """Every other active admin disabled for the test (and restored afterwards)."""
    admin = await make_user(role="admin")
    others = await db_pool.fetch(
        "UPDATE users SET is_active = false WHERE user_level = 'admin' AND is_active "
        "AND id <> $1 RETURNING id",
        admin.id,
    )
    try:
        yield admin
    finally:
        await db_pool.execute(
            "UPDATE users SET is_active = true WHERE id = ANY($1::bigint[])",
            [r["id"] for r in others],
        )


async def test_the_last_active_admin_cannot_be_removed(
    client: AuthClient, other_client: AuthClient, sole_admin, db_pool: asyncpg.Pool
) -> None:
    admin = sole_admin
    session = await client.login(admin.username, admin.password)
    base = f"/api/admin/users/{admin.id}"
    for method, path, body in [
        ("PUT", f"{base}/role", {"role": "user"}),
        ("POST", f"{base}/disable", None),
        ("PATCH", base, {"is_active": False}),
        ("PATCH", base, {"role": "user"}),
        ("DELETE", base, None),
    ]:
        response = await client.request(method, path, session, json=body)
        assert response.status_code == 409, (method, path, response.text)
        assert "no active administrator" in response.json()["detail"]
    row = await db_pool.fetchrow("SELECT user_level, is_active FROM users WHERE id = $1", admin.id)
    assert row is not None
    assert (row["user_level"], row["is_active"]) == ("admin", True)
    assert (await client.request("GET", "/api/auth/me", session)).status_code == 200

    # With a second admin, two admins demoting each other at once leave one.
    name = unique_name("second")
    second = await client.request(
        "POST",
        "/api/admin/users",
        session,
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "second admin pw",
            "role": "admin",
        },
    )
    second_id = second.json()["id"]
    second_session = await other_client.login(name, "second admin pw")
    results = await asyncio.gather(
        client.request("PUT", f"/api/admin/users/{second_id}/role", session, json={"role": "user"}),
        other_client.request(
            "PUT", f"/api/admin/users/{admin.id}/role", second_session, json={"role": "user"}
        ),
    )
    assert sorted(r.status_code for r in results).count(200) == 1, [r.text for r in results]
    admins = await db_pool.fetchval(
        "SELECT count(*) FROM users WHERE id = ANY($1::bigint[]) AND user_level = 'admin' "
        "AND is_active",
        [admin.id, second_id],
    )
    assert admins == 1


async def test_logs_are_readable_newest_first(
    client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    admin, user = await make_user(role="admin"), await make_user()
    session = await client.login(admin.username, admin.password)
    await client.login_response(user.username, "not the password")
    events = await client.request(
        "GET", "/api/admin/security-events?type=login_failed&limit=5", session
    )
    assert events.status_code == 200
    rows = events.json()
    assert 1 <= len(rows) <= 5 and {r["event_type"] for r in rows} == {"login_failed"}
    assert rows[0]["user_id"] == user.id and rows[0]["ip_address"] == client.ip
    assert rows[0]["details"] == {"reason": "wrong_password", "username_tried": user.username}
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)

    for action in ("first", "second", "third"):  # as the writer stores activity
        await db_pool.execute(
            "INSERT INTO user_activity_log (event_id, user_id, action, ip_address, details, "
            "timestamp) VALUES (gen_random_uuid(), $1, $2, '192.0.2.1', '{\"k\": 1}', now())",
            user.id,
            action,
        )
    activity = await client.request(
        "GET", f"/api/admin/activity?user_id={user.id}&limit=2", session
    )
    assert [a["action"] for a in activity.json()] == ["third", "second"]
    assert activity.json()[0]["details"] == {"k": 1}


async def test_activity_is_published_on_the_bus(
    client: AuthClient, make_user, settings: AuthSettings, topology: Topology
) -> None:
    user = await make_user()
    async with EventProbe(settings.amqp_url, topology, UserActivityV1) as probe:
        session = await client.login(user.username, user.password)
        await client.request(
            "POST", "/api/auth/tokens", session, json={"name": "probe", "password": user.password}
        )
        await client.request("POST", "/api/auth/logout", session)
        mine = await probe.wait_for(lambda e: e.user_id == user.id, count=3, timeout=20)
    assert [e.action for e in mine] == ["login", "token_create", "logout"]
    assert {e.ip_address for e in mine} == {client.ip}
    assert all(e.username == user.username and e.user_agent for e in mine)


async def test_me_answers_who_the_session_is_and_its_csrf_token(
    client: AuthClient, make_user
) -> None:
    user = await make_user()
    session: Session = await client.login(user.username, user.password)
    me = (await client.request("GET", "/api/auth/me", session)).json()
    assert me == {
        "id": user.id,
        "username": user.username,
        "role": "user",
        "csrf_token": session.csrf_token,
    }
