"""The one test matrix of `PrincipalResolver` (what auth and the gateway both
decide callers by), on the real PostgreSQL and Redis: every kind of credential ×
GET / state-changing methods with and without the CSRF token.

A refused credential answers the same whatever the method (401 and 503 come
before the CSRF check); an accepted session needs `X-CSRF-Token` on POST, PUT,
PATCH and DELETE; a Bearer token never does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest
from redis.asyncio import Redis
from starlette.requests import Request

from ticktide_common.principal import Principal
from ticktide_common.principal_resolver import (
    MAX_CREDENTIAL_LENGTH,
    STATE_CHANGING_METHODS,
    PrincipalRejected,
    PrincipalResolver,
    presented_credential,
)
from ticktide_common.sessions import SessionStore
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.users import create_test_token, create_test_user

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"
IDLE, ABSOLUTE = 30 * 60.0, 12 * 3600.0
MALFORMED = "Authorization must be 'Bearer <API token>'"
INVALID_TOKEN = "API token is invalid, expired or revoked, or its user is disabled"
ENDED_SESSION = "session expired or ended; log in again"
NO_CREDENTIAL = "authentication required"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """The stores a case sets itself up in, and the resolver over them."""

    pool: asyncpg.Pool
    sessions: SessionStore
    clock: Clock
    resolver: PrincipalResolver

    async def user(self, role: str = "user") -> tuple[int, str]:
        return await create_test_user(self.pool, role=role)  # type: ignore[arg-type]

    async def token(self) -> tuple[int, str]:
        user_id, _ = await self.user()
        return user_id, await create_test_token(self.pool, user_id)

    async def session(self) -> tuple[int, str, str]:
        user_id, name = await self.user()
        made = await self.sessions.create(user_id=user_id, username=name, role="user")
        return user_id, made.token, made.csrf_token


@dataclass(frozen=True)
class Presented:
    """What a case's request carries, and the CSRF token that belongs to it."""

    headers: dict[str, str]
    csrf: str | None = None


def cookie(token: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={token}"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _none(w: World) -> Presented:
    return Presented({})


async def _cookie(w: World) -> Presented:
    _, token, csrf = await w.session()
    return Presented(cookie(token), csrf)


async def _bearer(w: World) -> Presented:
    _, token = await w.token()
    return Presented(bearer(token))


async def _both(w: World) -> Presented:
    _, session, csrf = await w.session()
    _, token = await w.token()
    return Presented({**cookie(session), **bearer(token)}, csrf)


async def _wrong_bearer_beside_a_cookie(w: World) -> Presented:
    _, session, csrf = await w.session()
    return Presented({**cookie(session), **bearer("ttk_wrong")}, csrf)


async def _basic_beside_a_cookie(w: World) -> Presented:
    _, session, csrf = await w.session()
    return Presented({**cookie(session), "authorization": "Basic dXNlcjpwYXNz"}, csrf)


async def _empty_bearer(w: World) -> Presented:
    return Presented({"authorization": "Bearer "})


async def _empty_cookie(w: World) -> Presented:
    return Presented({"cookie": f"{COOKIE}="})


async def _malformed_token(w: World) -> Presented:
    return Presented(bearer("not a token of ours"))


async def _oversized_bearer(w: World) -> Presented:
    return Presented(bearer("ttk_" + "x" * MAX_CREDENTIAL_LENGTH))


async def _oversized_cookie(w: World) -> Presented:
    return Presented(cookie("x" * (MAX_CREDENTIAL_LENGTH + 1)))


async def _unknown_session(w: World) -> Presented:
    return Presented(cookie("not-a-session"))


async def _revoked_token(w: World) -> Presented:
    user_id, token = await w.token()
    await w.pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id)
    return Presented(bearer(token))


async def _expired_token(w: World) -> Presented:
    user_id, token = await w.token()
    await w.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
        user_id,
    )
    return Presented(bearer(token))


async def _disabled_users_token(w: World) -> Presented:
    user_id, token = await w.token()
    await w.pool.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
    return Presented(bearer(token))


async def _disabled_users_session(w: World) -> Presented:
    """Disabling a user ends every session of theirs (as the auth service does)."""
    user_id, token, csrf = await w.session()
    await w.pool.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
    await w.sessions.end_all(user_id)
    return Presented(cookie(token), csrf)


async def _idle_session(w: World) -> Presented:
    _, token, csrf = await w.session()
    w.clock.now += IDLE + 1
    return Presented(cookie(token), csrf)


async def _too_old_session(w: World) -> Presented:
    _, token, csrf = await w.session()
    for _ in range(int(ABSOLUTE // (IDLE / 2)) + 1):  # kept busy, but past 12 hours
        w.clock.now += IDLE / 2
        await w.sessions.resolve(token)
    return Presented(cookie(token), csrf)


async def _ended_session(w: World) -> Presented:
    user_id, token, csrf = await w.session()
    await w.sessions.end_all(user_id)
    return Presented(cookie(token), csrf)


Setup = Callable[[World], Awaitable[Presented]]
Expected = tuple[int, str] | str  # a refusal (status, detail), or the method accepted

CASES: dict[str, tuple[Setup, Expected]] = {
    "none": (_none, (401, NO_CREDENTIAL)),
    "cookie": (_cookie, "session"),
    "bearer": (_bearer, "token"),
    "both": (_both, "token"),
    "wrong-bearer-beside-cookie": (_wrong_bearer_beside_a_cookie, (401, INVALID_TOKEN)),
    "basic-beside-cookie": (_basic_beside_a_cookie, (401, MALFORMED)),
    "empty-bearer": (_empty_bearer, (401, MALFORMED)),
    "empty-cookie": (_empty_cookie, (401, NO_CREDENTIAL)),
    "not-our-token": (_malformed_token, (401, INVALID_TOKEN)),
    "oversized-bearer": (_oversized_bearer, (401, MALFORMED)),
    "oversized-cookie": (_oversized_cookie, (401, ENDED_SESSION)),
    "unknown-session": (_unknown_session, (401, ENDED_SESSION)),
    "revoked-token": (_revoked_token, (401, INVALID_TOKEN)),
    "expired-token": (_expired_token, (401, INVALID_TOKEN)),
    "disabled-user-token": (_disabled_users_token, (401, INVALID_TOKEN)),
    "disabled-user-session": (_disabled_users_session, (401, ENDED_SESSION)),
    "idle-session": (_idle_session, (401, ENDED_SESSION)),
    "too-old-session": (_too_old_session, (401, ENDED_SESSION)),
    "ended-session": (_ended_session, (401, ENDED_SESSION)),
}

# (method, which CSRF token it sends: none, the session's own, another one)
REQUESTS = [
    ("GET", "none"),
    ("HEAD", "none"),
    ("OPTIONS", "none"),
    ("POST", "none"),
    ("POST", "own"),
    ("POST", "wrong"),
    ("PUT", "none"),
    ("PATCH", "none"),
    ("DELETE", "none"),
    ("DELETE", "own"),
]


def request_of(method: str, headers: dict[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": method,
        "path": "/api/anything",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    return Request(scope)


@pytest.fixture
async def world(db_pool: asyncpg.Pool, redis_client: Redis, settings: RedisSettings) -> World:
    clock = Clock()
    sessions = SessionStore(
        redis_client,
        settings.ticktide_redis_prefix,
        idle_seconds=IDLE,
        absolute_seconds=ABSOLUTE,
        clock=clock,
    )
    return World(db_pool, sessions, clock, PrincipalResolver(db_pool, sessions, cookie_name=COOKIE))


async def outcome(resolver: PrincipalResolver, request: Request) -> tuple[int, str] | Principal:
    try:
        return await resolver.authenticate(request)
    except PrincipalRejected as refused:
        return refused.status_code, refused.detail


@pytest.mark.parametrize(("method", "csrf"), REQUESTS, ids=[f"{m}-csrf:{c}" for m, c in REQUESTS])
@pytest.mark.parametrize("case", list(CASES))
async def test_matrix(world: World, case: str, method: str, csrf: str) -> None:
    setup, expected = CASES[case]
    presented = await setup(world)
    headers = dict(presented.headers)
    if csrf == "own" and presented.csrf:
        headers["x-csrf-token"] = presented.csrf
    elif csrf == "wrong":
        headers["x-csrf-token"] = "not-the-sessions-token"
    got = await outcome(world.resolver, request_of(method, headers))

    if isinstance(expected, tuple):
        assert got == expected
        return
    needs_csrf = expected == "session" and method in STATE_CHANGING_METHODS
    if needs_csrf and csrf != "own":
        assert isinstance(got, tuple) and got[0] == 403, got
        assert "X-CSRF-Token" in got[1]
        return
    assert isinstance(got, Principal), got
    assert got.method == expected
    assert (got.csrf_token is not None) == (expected == "session")
    # Page requests (the gateway's `identify`) skip CSRF, never the credential.
    assert await world.resolver.identify(request_of(method, headers)) == got


def test_the_csrf_methods_are_the_writes() -> None:
    assert frozenset({"POST", "PUT", "PATCH", "DELETE"}) == STATE_CHANGING_METHODS


@pytest.fixture
async def redis_down(settings: RedisSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    yield client
    await client.aclose()


@pytest.fixture
async def closed_pool(database_url: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert pool is not None
    await pool.close()
    return pool


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_redis_down_fails_closed_for_cookies_only(
    world: World, redis_down: Redis, method: str
) -> None:
    _, session, csrf = await world.session()
    _, token = await world.token()
    down = SessionStore(redis_down, "x:", idle_seconds=IDLE, absolute_seconds=ABSOLUTE)
    resolver = PrincipalResolver(world.pool, down, cookie_name=COOKIE)
    with_cookie = request_of(method, {**cookie(session), "x-csrf-token": csrf})
    refused = await outcome(resolver, with_cookie)
    assert refused == (503, "session store unavailable; try again shortly")
    # A bearer request never asks Redis.
    accepted = await outcome(resolver, request_of(method, bearer(token)))
    assert isinstance(accepted, Principal) and accepted.method == "token"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_database_down_fails_closed_for_tokens(
    world: World, closed_pool: asyncpg.Pool, method: str
) -> None:
    _, token = await world.token()
    resolver = PrincipalResolver(closed_pool, world.sessions, cookie_name=COOKIE)
    refused = await outcome(resolver, request_of(method, bearer(token)))
    assert refused == (503, "token store unavailable; try again shortly")
    with pytest.raises(PrincipalRejected) as refusal:
        await resolver.authenticate(request_of(method, bearer(token)))
    assert refusal.value.headers == {"Retry-After": "5"}


async def test_still_holds_ends_with_the_credential(world: World, redis_down: Redis) -> None:
    """The stream re-check: None while the credential holds, a reason after."""
    user_id, token = await world.token()
    request = request_of("GET", bearer(token))
    principal = await world.resolver.authenticate(request)
    credential = presented_credential(request, COOKIE)
    assert await world.resolver.still_holds(credential, principal) is None
    await world.pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id)
    assert await world.resolver.still_holds(credential, principal) == (
        "the token was revoked or expired, or its user disabled"
    )

    user_id, session, _ = await world.session()
    request = request_of("GET", cookie(session))
    principal = await world.resolver.authenticate(request)
    credential = presented_credential(request, COOKIE)
    assert await world.resolver.still_holds(credential, principal) is None
    down = PrincipalResolver(
        world.pool,
        SessionStore(redis_down, "x:", idle_seconds=IDLE, absolute_seconds=ABSOLUTE),
        cookie_name=COOKIE,
    )
    assert await down.still_holds(credential, principal) == "the session could not be re-checked"
    await world.sessions.end_all(user_id)
    assert await world.resolver.still_holds(credential, principal) == "the session ended"
