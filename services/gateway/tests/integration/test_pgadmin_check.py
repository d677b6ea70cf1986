"""`GET /api/admin/pgadmin-check`, nginx's `auth_request` for `/pgadmin/`, against
the real gateway and the real auth service (processes of their own, real
PostgreSQL, Redis and RabbitMQ): anonymous and bad credentials → 401, a user →
403, an admin's session → 204 naming them; API tokens never open pgAdmin (403,
an admin's included); an admin demoted or disabled through the admin API the
/admin/users page uses loses it at the very next check; Redis down → 503. Every
answer is `Cache-Control: no-store`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.principal import Role
from ticktide_common.sessions import NewSession, SessionStore
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.pgadmin_check import PATH, USER_HEADER
from ticktide_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"


@pytest.fixture(scope="module")
async def auth_service(service_env: dict[str, str], log_dir: Path) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    env = {**service_env, "AUTH_PORT": str(port)}
    process = await ServiceProcess("ticktide_auth", env, port, log_dir, "pgadmin-auth").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def gateway_with_auth(
    service_env: dict[str, str],
    log_dir: Path,
    stub_services,  # type: ignore[no-untyped-def]
    auth_service: ServiceProcess,
    bus,  # type: ignore[no-untyped-def]  # torn down after this gateway stopped
) -> AsyncIterator[str]:
    """A gateway forwarding the admin API to the real auth service."""
    port = free_port()
    env = {
        **service_env,
        "GATEWAY_PORT": str(port),
        "AUTH_URL": auth_service.url,
        "INGEST_CRYPTO_URL": stub_services["ingest-crypto"].url,
        "INGEST_STOCKS_URL": stub_services["ingest-stocks"].url,
        "INGEST_WEATHER_URL": stub_services["ingest-weather"].url,
        "WRITER_URL": stub_services["writer"].url,
        "WEB_URL": stub_services["web"].url,
    }
    process = await ServiceProcess("ticktide_gateway", env, port, log_dir, "pgadmin-gw").start()
    yield process.url
    process.stop()


@pytest.fixture
async def client(gateway_with_auth: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_with_auth, timeout=10.0) as http:
        yield http


@pytest.fixture
def sessions(redis_client: Redis, settings: GatewaySettings) -> SessionStore:
    """The store the gateway and auth read (same Redis, prefix and timeouts)."""
    return SessionStore.from_settings(redis_client, settings)


async def signed_in(pool: asyncpg.Pool, store: SessionStore, role: Role) -> NewSession:
    """A session as auth's login makes it (also listed under its user, so that
    auth's end-all on a role change or disabling finds it)."""
    user_id, username = await create_test_user(pool, role=role)
    return await store.create(user_id=user_id, username=username, role=role)


def cookie(session: NewSession) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={session.token}"}


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert USER_HEADER.lower() not in response.headers
    assert response.headers["cache-control"] == "no-store"


async def test_anonymous_and_bad_credentials_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH)
    assert_refused(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    for headers in (
        {"Cookie": f"{COOKIE}=not-a-session"},
        {"Cookie": f"{COOKIE}="},
        {"Authorization": "Bearer ttk_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        assert_refused(await client.get(PATH, headers=headers), 401)


async def test_a_signed_in_user_is_403(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    session = await signed_in(db_pool, sessions, "user")
    response = await client.get(PATH, headers=cookie(session))
    assert_refused(response, 403)
    assert response.json() == {"detail": "pgAdmin is for signed-in administrators"}


async def test_an_admins_session_is_204_naming_them(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    session = await signed_in(db_pool, sessions, "admin")
    for method in ("GET", "HEAD"):
        response = await client.request(method, PATH, headers=cookie(session))
        assert response.status_code == 204, response.text
        assert response.headers[USER_HEADER] == session.principal.username
        assert response.headers["cache-control"] == "no-store"
        assert response.content == b""


async def test_api_tokens_never_open_pgadmin(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    """pgAdmin is a browser tool: a token made for scripts (valid up to a year) must
    not open an interactive database session as its owner, an admin's neither."""
    roles: tuple[Role, ...] = ("admin", "user")
    tokens = {}
    for role in roles:
        user_id, _ = await create_test_user(db_pool, role=role)
        tokens[role] = token = await create_test_token(db_pool, user_id)
        # A valid token, as the rest of the API sees it (an admin route for the admin).
        admin_route = "/api/admin/database/tables"
        expected = 200 if role == "admin" else 403
        assert (await client.get(admin_route, headers=bearer(token))).status_code == expected
        response = await client.get(PATH, headers=bearer(token))
        assert_refused(response, 403)
        assert "API token" in response.json()["detail"]
    # A request with Authorization is judged by it alone: an admin's cookie beside
    # an admin's token opens nothing either.
    session = await signed_in(db_pool, sessions, "admin")
    response = await client.get(PATH, headers={**cookie(session), **bearer(tokens["admin"])})
    assert_refused(response, 403)


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("PATCH", "", {"role": "user"}),
        ("POST", "/disable", None),
    ],
    ids=["demoted", "disabled"],
)
async def test_an_admin_demoted_or_disabled_loses_pgadmin_at_the_next_request(
    client: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    sessions: SessionStore,
    method: str,
    action: str,
    body: dict[str, str] | None,
) -> None:
    actor_id, _ = await create_test_user(db_pool, role="admin")
    actor = bearer(await create_test_token(db_pool, actor_id))
    session = await signed_in(db_pool, sessions, "admin")
    for _ in range(2):  # answered afresh each time, not from anything remembered
        opened = await client.get(PATH, headers=cookie(session))
        assert opened.status_code == 204, opened.text
    user_id = session.principal.user_id
    # What /admin/users does (through the gateway, to the real auth service).
    changed = await client.request(
        method, f"/api/admin/users/{user_id}{action}", json=body, headers=actor
    )
    assert changed.status_code == 200, changed.text
    assert_refused(await client.get(PATH, headers=cookie(session)), 401)
    # Signed in again afterwards: demoted, a user's session is a 403.
    if action == "":
        again = await sessions.create(
            user_id=user_id, username=session.principal.username, role="user"
        )
        assert_refused(await client.get(PATH, headers=cookie(again)), 403)


async def test_redis_down_is_503_never_a_pass(
    gateway_without_redis: ServiceProcess, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    """The gateway's Redis is a port nobody listens on: an admin's session cannot
    be checked, so nginx is told 503, and nobody reaches pgAdmin."""
    session = await signed_in(db_pool, sessions, "admin")
    async with httpx.AsyncClient(base_url=gateway_without_redis.url, timeout=10.0) as http:
        response = await http.get(PATH, headers=cookie(session))
        assert_refused(response, 503)
        assert response.headers["retry-after"] == "5"
        assert response.json() == {"detail": "session store unavailable; try again shortly"}
