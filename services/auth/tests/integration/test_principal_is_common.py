"""The auth service decides who is calling by `ticktide_common.principal_resolver`
alone: for the same request, its HTTP answer is the resolver's (the gateway's
answer is compared with auth's in tests/e2e/test_api_auth.py)."""

from __future__ import annotations

import asyncpg
import pytest
from redis.asyncio import Redis
from starlette.requests import Request

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, FakeClock
from ticktide_common.principal_resolver import PrincipalRejected, PrincipalResolver
from ticktide_common.sessions import SessionStore
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

pytestmark = pytest.mark.integration


def request_of(method: str, headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/", "headers": raw})


async def test_auths_answer_is_the_common_resolvers(
    client: AuthClient,
    make_user,  # type: ignore[no-untyped-def]
    db_pool: asyncpg.Pool,
    redis_client: Redis,
    settings: AuthSettings,
    auth_clock: FakeClock,
) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    token_user, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, token_user)
    cookie = {"Cookie": f"{settings.session_cookie_name}={session.token}"}
    resolver = PrincipalResolver(
        db_pool,
        SessionStore(
            redis_client,
            settings.ticktide_redis_prefix,
            idle_seconds=settings.session_idle_minutes * 60,
            absolute_seconds=settings.session_absolute_hours * 3600,
            clock=auth_clock,
        ),
        cookie_name=settings.session_cookie_name,
    )
    requests = [
        ("GET", "/api/auth/me", {}),
        ("GET", "/api/auth/me", cookie),
        ("GET", "/api/auth/me", bearer(token)),
        ("GET", "/api/auth/me", {**cookie, "Authorization": "Basic dXNlcjpwYXNz"}),
        ("GET", "/api/auth/me", {"Authorization": "Bearer " + "x" * 300}),
        ("GET", "/api/auth/me", bearer("ttk_unknown")),
        ("DELETE", "/api/auth/tokens/1", cookie),  # no CSRF token
    ]
    for method, path, headers in requests:
        answer = await client.request(method, path, headers=headers)
        try:
            principal = await resolver.authenticate(request_of(method, headers))
        except PrincipalRejected as refused:
            assert answer.status_code == refused.status_code, (headers, answer.text)
            assert answer.json() == {"detail": refused.detail}
            for name, value in refused.headers.items():
                assert answer.headers[name] == value
        else:
            assert answer.status_code == 200, (headers, answer.text)
            assert answer.json()["username"] == principal.username
