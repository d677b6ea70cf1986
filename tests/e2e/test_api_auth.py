"""Issue 3's acceptance through the gateway, with every service running (auth,
gateway, writer, ingest-crypto): the OpenAPI walk — every `/api` route listed
in the document answers 401 anonymously (but the public ones) and 403 to a
user where it is an admin route; a cookie session from a real login needs its
CSRF token on a write; and authenticated writes land in `user_activity_log`
through the bus and the writer.

Issue 10's account findings through the gateway: tokens die with the password
(own change, admin reset) and at expiry, cannot mint tokens or revoke their
owner's other tokens, are capped per user; registration answers alike for a
taken name; weak passwords are refused with advice; a deleted user's security
events still name them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.testing.processes import wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PUBLIC = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/register"),
}
METHODS = ("get", "post", "put", "patch", "delete")
COOKIE = "__Host-ticktide_session"
BACKFILL = "/api/admin/ingest/crypto/backfill"
BACKFILL_BODY = {
    "symbol": "BTCUSDT",
    "interval": "1d",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-02T00:00:00Z",
}


@pytest.fixture(scope="module")
def binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    binance: FakeBinance, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[CryptoStack]:
    # Every service, so that /api/health (public) answers 200 "ok".
    started = await start_stack(
        binance,
        # Issue 10's tests register several users from the one gateway address.
        stack_env(service_env, binance.url, REGISTRATION_MAX_PER_IP="100"),
        log_dir,
        ingesters=("stocks", "weather", "web"),
    )
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture(scope="module")
async def client(stack: CryptoStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        yield http


def is_admin_route(path: str) -> bool:
    return path.startswith("/api/admin/") or path == "/api/crypto/quality"


def filled(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter replaced by a value of its type."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        schema = parameter.get("schema", {})
        if schema.get("type") == "integer":
            value = "1"
        elif schema.get("format") == "uuid":
            value = str(uuid.uuid4())
        else:
            value = "dummy"
        path = path.replace("{" + parameter["name"] + "}", value)
    assert "{" not in path, path
    return path


async def test_every_route_in_the_openapi_document_is_guarded(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert not document["info"].get("x-ticktide-incomplete"), "auth's routes are missing"
    user_id, _ = await create_test_user(db_pool, role="user")
    user = bearer(await create_test_token(db_pool, user_id))

    operations = [
        (method.upper(), path, filled(path, operation))
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method in METHODS
    ]
    # The walk covers the gateway's own routes and the proxied auth routes.
    listed = {(m, p) for m, p, _ in operations}
    assert PUBLIC <= listed
    for expected in [
        ("GET", "/api/crypto/prices"),
        ("POST", BACKFILL),
        ("GET", "/api/auth/me"),
        ("POST", "/api/auth/tokens"),
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/security-events"),
        ("GET", "/api/admin/activity"),
    ]:
        assert expected in listed, expected

    wrong: list[str] = []
    for method, template, url in operations:
        anonymous = await client.request(method, url, json={})
        if (method, template) in PUBLIC:
            if anonymous.status_code in (401, 403) or anonymous.status_code >= 500:
                wrong.append(f"{method} {template}: public, answered {anonymous.status_code}")
        elif anonymous.status_code != 401:
            wrong.append(f"{method} {template}: anonymous got {anonymous.status_code}")
        if is_admin_route(template):
            as_user = await client.request(method, url, json={}, headers=user)
            if as_user.status_code != 403:
                wrong.append(f"{method} {template}: a user got {as_user.status_code}")
    assert not wrong, "\n".join(wrong)
    assert sum(is_admin_route(p) for _, p, _ in operations) >= 10


async def login(client: httpx.AsyncClient, username: str, password: str) -> tuple[str, str]:
    """A real login through the gateway: (session token, CSRF token)."""
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies[COOKIE].value, response.json()["csrf_token"]


async def test_cookie_session_needs_csrf_and_writes_reach_the_activity_log(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    username = f"csrf-{uuid.uuid4().hex[:8]}"
    password = "correct horse battery staple"
    registered = await client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert registered.status_code == 202, registered.text
    await db_pool.execute(
        "UPDATE users SET user_level = 'admin' WHERE lower(username) = lower($1)", username
    )
    token, csrf = await login(client, username, password)
    agent = f"e2e-activity/{uuid.uuid4().hex[:8]}"
    cookie = {"Cookie": f"{COOKIE}={token}", "User-Agent": agent}

    assert (await client.get("/api/crypto/symbols", headers=cookie)).status_code == 200
    refused = await client.post(BACKFILL, json=BACKFILL_BODY, headers=cookie)
    assert refused.status_code == 403, refused.text
    accepted = await client.post(
        BACKFILL, json=BACKFILL_BODY, headers={**cookie, "X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 202, accepted.text

    user_id = await db_pool.fetchval(
        "SELECT id FROM users WHERE lower(username) = lower($1)", username
    )
    query = """SELECT action, host(ip_address) AS ip, user_agent, details->>'status' AS status
               FROM user_activity_log WHERE user_id = $1 ORDER BY timestamp"""

    async def both_recorded() -> bool:
        rows = await db_pool.fetch(query, user_id)
        return sum(r["action"] == f"POST {BACKFILL}" for r in rows) == 2

    await wait_until(both_recorded, timeout=20, what="the gateway's activity rows")
    rows = await db_pool.fetch(query, user_id)
    mine = [r for r in rows if r["action"] == f"POST {BACKFILL}"]
    assert [(r["status"], r["ip"], r["user_agent"]) for r in mine] == [
        ("403", "127.0.0.1", agent),
        ("202", "127.0.0.1", agent),
    ]
    # The login itself is recorded by auth through the same path.
    assert any(r["action"] != f"POST {BACKFILL}" for r in rows), rows


# ---- issue 10: tokens and accounts -------------------------------------------

DATA = "/api/crypto/symbols"  # a gateway route any user may read
TOKENS = "/api/auth/tokens"


class Account:
    """A user registered and signed in through the gateway."""

    def __init__(self, username: str, password: str, session: str, csrf: str) -> None:
        self.username, self.password = username, password
        self.headers = {"Cookie": f"{COOKIE}={session}", "X-CSRF-Token": csrf}

    async def token(self, client: httpx.AsyncClient, **extra: object) -> dict[str, Any]:
        made = await client.post(
            TOKENS, json={"name": "e2e", "password": self.password, **extra}, headers=self.headers
        )
        assert made.status_code == 201, made.text
        body: dict[str, Any] = made.json()
        return body


async def signed_up(
    client: httpx.AsyncClient, prefix: str = "acct", admin_in: asyncpg.Pool | None = None
) -> Account:
    """Registered through the gateway; made an admin in `admin_in` before signing in."""
    username = f"{prefix}-{uuid.uuid4().hex[:8]}"
    password = "correct horse battery staple"
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    assert (await client.post("/api/auth/register", json=body)).status_code == 202
    if admin_in is not None:
        await admin_in.execute(
            "UPDATE users SET user_level = 'admin' WHERE username = $1", username
        )
    return Account(username, password, *await login(client, username, password))


async def test_tokens_die_with_the_password_and_at_expiry(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    user = await signed_up(client)
    own, expiring = await user.token(client), await user.token(client)
    for token in (own, expiring):
        assert (await client.get(DATA, headers=bearer(token["token"]))).status_code == 200

    await db_pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        expiring["id"],
    )
    assert (await client.get(DATA, headers=bearer(expiring["token"]))).status_code == 401

    new_password = "a brand new passphrase"
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": user.password, "new_password": new_password},
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get(DATA, headers=bearer(own["token"]))).status_code == 401

    # An admin's reset revokes the tokens made since, too.
    user.password = new_password
    after_change = await user.token(client)
    admin = await signed_up(client, "admin", admin_in=db_pool)
    user_id = await db_pool.fetchval("SELECT id FROM users WHERE username = $1", user.username)
    assert (await client.get(DATA, headers=bearer(after_change["token"]))).status_code == 200
    patched = await client.patch(
        f"/api/admin/users/{user_id}", json={"password": "set by the admin"}, headers=admin.headers
    )
    assert patched.status_code == 200, patched.text
    assert (await client.get(DATA, headers=bearer(after_change["token"]))).status_code == 401


async def test_a_token_cannot_mint_or_revoke_other_tokens_and_tokens_are_capped(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    user = await signed_up(client)
    first, second = await user.token(client), await user.token(client)
    as_token = bearer(first["token"])
    minted = await client.post(
        TOKENS, json={"name": "more", "password": user.password}, headers=as_token
    )
    assert minted.status_code == 403 and "cannot create API tokens" in minted.json()["detail"]
    revoked = await client.delete(f"{TOKENS}/{second['id']}", headers=as_token)
    assert revoked.status_code == 403 and "only itself" in revoked.json()["detail"]
    assert (await client.get(DATA, headers=bearer(second["token"]))).status_code == 200
    listed = await client.get(TOKENS, headers=as_token)
    assert listed.status_code == 200
    assert {"created_at", "expires_at", "last_used_at", "state"} <= set(listed.json()[0])

    user_id = await db_pool.fetchval("SELECT id FROM users WHERE username = $1", user.username)
    for _ in range(18):  # 20 live in all: the default cap
        await create_test_token(db_pool, user_id)
    capped = await client.post(
        TOKENS, json={"name": "21st", "password": user.password}, headers=user.headers
    )
    assert capped.status_code == 409 and "live API tokens" in capped.json()["detail"]


async def test_registration_answers_alike_for_a_taken_name_and_creates_nothing(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    name = f"reg-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"}
    new = await client.post("/api/auth/register", json=body)
    count = await db_pool.fetchval("SELECT count(*) FROM users")
    taken_name = {**body, "email": f"other-{name}@example.com"}
    taken_email = {**body, "username": f"other-{name}"}
    for duplicate in (taken_name, taken_email):
        again = await client.post("/api/auth/register", json=duplicate)
        assert (again.status_code, again.json()) == (new.status_code, new.json())
        assert new.status_code == 202
    assert await db_pool.fetchval("SELECT count(*) FROM users") == count


@pytest.mark.parametrize("password", ["password", "12345678", "ticktide123"])
async def test_weak_passwords_are_refused_with_advice(
    client: httpx.AsyncClient, password: str
) -> None:
    name = f"weak-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.com", "password": password}
    refused = await client.post("/api/auth/register", json=body)
    assert refused.status_code == 422, refused.text
    assert "passphrase" in refused.json()["detail"]


async def test_a_deleted_users_security_events_still_name_them(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    admin = await signed_up(client, "admin", admin_in=db_pool)
    user = await signed_up(client)
    user_id = await db_pool.fetchval("SELECT id FROM users WHERE username = $1", user.username)
    disabled = await client.post(f"/api/admin/users/{user_id}/disable", headers=admin.headers)
    assert disabled.status_code == 200
    assert (
        await client.delete(f"/api/admin/users/{user_id}", headers=admin.headers)
    ).status_code == 204
    events = await client.get(
        "/api/admin/security-events", params={"username": user.username}, headers=admin.headers
    )
    assert events.status_code == 200, events.text
    shown = events.json()
    assert {"register", "user_disabled", "user_deleted"} <= {e["event_type"] for e in shown}
    assert {e["username"] for e in shown} == {user.username}


# ---- issue 12: one principal resolver ----------------------------------------


async def test_auth_and_the_gateway_answer_a_credential_alike(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    """The same request, to an auth route (`GET /api/auth/me`, forwarded) and to a
    gateway route (`GET /api/crypto/symbols`), gets the same status, detail and
    challenge: both decide by `ticktide_common.principal_resolver`."""
    account = await signed_up(client, "alike", admin_in=db_pool)
    session = account.headers["Cookie"]
    user_id, _ = await create_test_user(db_pool)
    revoked = await create_test_token(db_pool, user_id)
    await db_pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id)
    live = await create_test_token(db_pool, user_id)
    cases: dict[str, dict[str, str]] = {
        "none": {},
        "session": {"Cookie": session},
        "token": bearer(live),
        "both": {"Cookie": session, **bearer(live)},
        "basic-beside-session": {"Cookie": session, "Authorization": "Basic dXNlcjpwYXNz"},
        "empty-bearer": {"Authorization": "Bearer"},
        "oversized-bearer": {"Authorization": "Bearer ttk_" + "x" * 300},
        "unknown-token": bearer("ttk_unknown"),
        "revoked-token": bearer(revoked),
        "unknown-session": {"Cookie": f"{COOKIE}=not-a-session"},
        "oversized-session": {"Cookie": f"{COOKIE}={'x' * 300}"},
    }
    for name, headers in cases.items():
        through_auth = await client.get("/api/auth/me", headers=headers)
        through_gateway = await client.get(DATA, headers=headers)
        assert through_auth.status_code == through_gateway.status_code, name
        if through_auth.status_code != 200:
            assert through_auth.status_code == 401, (name, through_auth.text)
            assert through_auth.json() == through_gateway.json(), name
            assert (
                through_auth.headers["www-authenticate"]
                == through_gateway.headers["www-authenticate"]
            ), name
        expected = 401 if name not in ("session", "token", "both") else 200
        assert through_auth.status_code == expected, (name, through_auth.text)

    # A cookie-authenticated write without the CSRF token: the same 403 from both.
    without_csrf = {"Cookie": session}
    by_auth = await client.post("/api/auth/logout", headers=without_csrf)
    by_gateway = await client.post(BACKFILL, json=BACKFILL_BODY, headers=without_csrf)
    assert by_auth.status_code == by_gateway.status_code == 403, (by_auth.text, by_gateway.text)
    assert by_auth.json() == by_gateway.json()
