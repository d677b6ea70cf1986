"""Who may call what, against the real gateway, PostgreSQL, Redis and RabbitMQ:
anonymous → 401, a user on an admin route → 403 (before the body or the query
is even looked at), revoked tokens and disabled users → 401, sessions from the
Redis store accepted, CSRF required for cookie-authenticated writes only, and
every authenticated write published as an activity event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.messages import UserActivityV1
from ticktide_common.sessions import NewSession, SessionStore
from ticktide_common.settings import BusSettings, ServiceSettings
from ticktide_common.testing.events import EventProbe
from ticktide_common.testing.fixtures import settings_for
from ticktide_common.testing.processes import ServiceProcess, wait_until
from ticktide_common.testing.proxy import trusted_hop
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_common.topology import Topology
from ticktide_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"
BACKFILL = "/api/admin/ingest/crypto/backfill"
BACKFILL_BODY = {
    "symbol": "BTCUSDT",
    "interval": "1d",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-03T00:00:00Z",
}
USER_ROUTES = [("GET", "/api/crypto/symbols"), ("GET", "/api/crypto/prices?symbol=BTCUSDT")]
ADMIN_ROUTES = [
    ("GET", "/api/crypto/quality?symbol=BTCUSDT&interval=1h"),
    ("GET", f"/api/admin/ingest/jobs/{uuid.uuid4()}"),
    ("POST", BACKFILL),
]


@pytest.fixture
def sessions(redis_client: Redis, settings: ServiceSettings) -> SessionStore:
    """The store the gateway reads (same Redis, same prefix, its session timeouts)."""
    gateway = settings_for(GatewaySettings, settings)
    return SessionStore(
        redis_client,
        gateway.ticktide_redis_prefix,
        idle_seconds=gateway.session_idle_minutes * 60,
        absolute_seconds=gateway.session_absolute_hours * 3600,
    )


async def session_of(pool: asyncpg.Pool, store: SessionStore, role: str) -> NewSession:
    user_id, username = await create_test_user(pool, role=role)  # type: ignore[arg-type]
    return await store.create(user_id=user_id, username=username, role=role)  # type: ignore[arg-type]


@pytest.fixture
async def activity_probe(
    settings: BusSettings, topology: Topology
) -> AsyncIterator[EventProbe[UserActivityV1]]:
    async with EventProbe(settings.amqp_url, topology, UserActivityV1) as probe:
        yield probe


@pytest.mark.parametrize(("method", "path"), USER_ROUTES + ADMIN_ROUTES)
async def test_anonymous_is_401_with_a_bearer_challenge(
    anonymous_api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous_api.request(method, path, json=BACKFILL_BODY)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "authentication required"}
    assert response.headers["www-authenticate"] == "Bearer"


MALFORMED = "Authorization must be 'Bearer <API token>'"
INVALID_TOKEN = "API token is invalid, expired or revoked, or its user is disabled"
ENDED_SESSION = "session expired or ended; log in again"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Authorization": "Bearer ttk_not-a-real-token"}, INVALID_TOKEN),
        ({"Authorization": "Bearer"}, MALFORMED),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, MALFORMED),
        ({"Authorization": "Bearer " + "x" * 5000}, MALFORMED),
        ({"Cookie": f"{COOKIE}=not-a-session"}, ENDED_SESSION),
        ({"Cookie": f"{COOKIE}="}, "authentication required"),
    ],
    ids=["unknown-token", "empty-bearer", "basic", "huge-token", "unknown-session", "empty-cookie"],
)
async def test_bad_credentials_are_401(
    anonymous_api: httpx.AsyncClient, headers: dict[str, str], detail: str
) -> None:
    """The wording is `ticktide_common.principal_resolver`'s, as the auth service's."""
    response = await anonymous_api.get("/api/crypto/symbols", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_auth_comes_before_body_and_query_validation(
    anonymous_api: httpx.AsyncClient, user_token: str
) -> None:
    """A malformed JSON body or a bad query parameter must not reveal a 422 to
    someone who may not call the route at all."""
    bad_json = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    assert (await anonymous_api.post(BACKFILL, **bad_json)).status_code == 401  # type: ignore[arg-type]
    as_user = {**bad_json["headers"], **bearer(user_token)}  # type: ignore[dict-item]
    response = await anonymous_api.post(BACKFILL, content=b"{not json", headers=as_user)
    assert response.status_code == 403
    assert response.json() == {"detail": "this endpoint requires the admin role"}
    bad_query = "/api/crypto/prices?interval=7m&limit=-1"
    assert (await anonymous_api.get(bad_query)).status_code == 401
    assert (await anonymous_api.get(bad_query, headers=bearer(user_token))).status_code == 422


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_user_on_admin_routes_is_403(
    anonymous_api: httpx.AsyncClient, user_token: str, method: str, path: str
) -> None:
    response = await anonymous_api.request(
        method, path, json=BACKFILL_BODY, headers=bearer(user_token)
    )
    assert response.status_code == 403, response.text


async def test_user_token_reaches_user_routes(
    anonymous_api: httpx.AsyncClient, user_token: str
) -> None:
    response = await anonymous_api.get("/api/crypto/symbols", headers=bearer(user_token))
    assert response.status_code == 200, response.text


async def test_revoked_token_and_disabled_user_are_401(
    anonymous_api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    user_id, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, user_id)
    assert (
        await anonymous_api.get("/api/crypto/symbols", headers=bearer(token))
    ).status_code == 200
    await db_pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id)
    assert (
        await anonymous_api.get("/api/crypto/symbols", headers=bearer(token))
    ).status_code == 401

    user_id, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, user_id)
    await db_pool.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
    response = await anonymous_api.get("/api/crypto/symbols", headers=bearer(token))
    assert response.status_code == 401
    assert "invalid_token" in response.headers["www-authenticate"]


async def test_an_authorization_header_is_what_the_request_is_judged_by(
    anonymous_api: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    """Issue 12: one rule with the auth service: a request with an `Authorization`
    header is judged by it alone; another scheme (Basic) is a 401 even beside a
    valid session cookie, as is a wrong bearer token."""
    session = await session_of(db_pool, sessions, "user")
    headers = {"Cookie": f"{COOKIE}={session.token}"}
    assert (await anonymous_api.get("/api/crypto/symbols", headers=headers)).status_code == 200
    headers["Authorization"] = "Basic dXNlcjpwYXNz"
    refused = await anonymous_api.get("/api/crypto/symbols", headers=headers)
    assert refused.status_code == 401 and refused.json() == {"detail": MALFORMED}
    headers["Authorization"] = "Bearer ttk_wrong"
    assert (await anonymous_api.get("/api/crypto/symbols", headers=headers)).status_code == 401


async def test_session_cookie_is_accepted_and_ended_session_is_not(
    anonymous_api: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    session = await session_of(db_pool, sessions, "user")
    cookie = {"Cookie": f"{COOKIE}={session.token}"}
    assert (await anonymous_api.get("/api/crypto/symbols", headers=cookie)).status_code == 200
    await sessions.end(session.principal.credential_hash, session.principal.user_id)
    assert (await anonymous_api.get("/api/crypto/symbols", headers=cookie)).status_code == 401


async def test_cookie_writes_need_the_csrf_token_bearer_writes_do_not(
    anonymous_api: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    sessions: SessionStore,
    admin_token: str,
) -> None:
    session = await session_of(db_pool, sessions, "admin")
    cookie = {"Cookie": f"{COOKIE}={session.token}"}

    missing = await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=cookie)
    assert missing.status_code == 403, missing.text
    assert "X-CSRF-Token" in missing.json()["detail"]
    wrong = {**cookie, "X-CSRF-Token": session.csrf_token[:-2] + "xx"}
    assert (
        await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=wrong)
    ).status_code == 403
    # Another session's token is no good either.
    other = await session_of(db_pool, sessions, "admin")
    foreign = {**cookie, "X-CSRF-Token": other.csrf_token}
    assert (
        await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=foreign)
    ).status_code == 403

    right = {**cookie, "X-CSRF-Token": session.csrf_token}
    accepted = await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=right)
    assert accepted.status_code == 202, accepted.text
    # Reads need no CSRF token; bearer writes need none.
    job = await anonymous_api.get(accepted.json()["status_url"], headers=cookie)
    assert job.status_code == 200
    by_token = await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=bearer(admin_token))
    assert by_token.status_code == 202, by_token.text


async def test_authenticated_writes_are_published_as_activity(
    anonymous_api: httpx.AsyncClient,
    admin_user: tuple[int, str, str],
    user_token: str,
    activity_probe: EventProbe[UserActivityV1],
) -> None:
    admin_id, admin_name, token = admin_user
    agent = f"activity-test/{uuid.uuid4().hex[:8]}"
    # As nginx forwards it: the client's address with the proxy secret.
    headers = {**bearer(token), "User-Agent": agent, **trusted_hop("198.51.100.23")}
    assert (
        await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=headers)
    ).status_code == 202
    assert (await anonymous_api.get("/api/crypto/symbols", headers=headers)).status_code == 200
    bad = await anonymous_api.post(BACKFILL, json={"symbol": "BTCUSDT"}, headers=headers)
    assert bad.status_code == 422
    user_headers = {**bearer(user_token), "User-Agent": agent}
    assert (
        await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=user_headers)
    ).status_code == 403
    anonymous = {"User-Agent": agent}
    assert (
        await anonymous_api.post(BACKFILL, json=BACKFILL_BODY, headers=anonymous)
    ).status_code == 401

    def ours(event: UserActivityV1) -> bool:
        return event.user_agent == agent

    async def three_events() -> bool:
        return len(activity_probe.matching(ours)) >= 3

    await wait_until(three_events, timeout=10, what="three activity events")
    events = sorted(activity_probe.matching(ours), key=lambda e: e.at)
    assert len(events) == 3  # no event for the GET nor for the anonymous POST
    first = events[0]
    assert (first.user_id, first.username, first.action, first.ip_address) == (
        admin_id,
        admin_name,
        f"POST {BACKFILL}",
        "198.51.100.23",
    )
    assert first.details == {"status": 202, "auth": "token"}
    assert [e.details["status"] for e in events] == [202, 422, 403]
    assert events[2].user_id != admin_id


async def test_redis_down_is_503_never_a_pass(
    gateway_without_redis: ServiceProcess,
    db_pool: asyncpg.Pool,
    sessions: SessionStore,
    admin_token: str,
) -> None:
    """The gateway's Redis is a port nobody listens on: a session cannot be
    checked, so the answer is 503 — while API tokens (PostgreSQL) still work."""
    session = await session_of(db_pool, sessions, "admin")
    async with httpx.AsyncClient(base_url=gateway_without_redis.url, timeout=10.0) as client:
        cookie = {"Cookie": f"{COOKIE}={session.token}", "X-CSRF-Token": session.csrf_token}
        for method, path in [("GET", "/api/crypto/symbols"), ("POST", BACKFILL)]:
            response = await client.request(method, path, json=BACKFILL_BODY, headers=cookie)
            assert response.status_code == 503, response.text
            assert response.json() == {"detail": "session store unavailable; try again shortly"}
        job = await client.get(
            f"/api/admin/ingest/jobs/{uuid.uuid4()}", headers=bearer(admin_token)
        )
        assert job.status_code == 404  # authenticated by PostgreSQL, then not found
        assert (await client.get("/api/crypto/symbols")).status_code == 401
