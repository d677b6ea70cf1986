"""Who is asking, and may they: the gateway's one authentication module.

- A caller is identified by the session cookie (`__Host-ticktide_session`,
  checked in Redis by `SessionStore.resolve`: one round trip) or by
  `Authorization: Bearer ttk_...` (`principal_for_token`: one query). Neither,
  or one that does not check out → 401. Redis (or PostgreSQL) failing → 503:
  the check fails closed, never open.
- A cookie-authenticated POST/PUT/PATCH/DELETE must carry the session's CSRF
  token in `X-CSRF-Token` (compared in constant time) → 403 otherwise. Bearer
  requests are exempt: browsers never attach that header on their own.
- Routes declare who may call them with the `CurrentPrincipal` /
  `AdminPrincipal` aliases or router-level `Depends(current_principal)` /
  `Depends(require_admin)`. `GuardedRoute` (the routers' route class) runs the
  same check before FastAPI reads the body or validates parameters, so an
  anonymous or under-privileged caller always gets 401/403 first, whatever it
  sent; the dependencies then find the principal already resolved.
- The authenticated principal is kept in the ASGI scope, where the activity
  middleware finds it after the response.
- A long response (an event stream) re-checks its credential with
  `principal_recheck` (without sliding the session) and ends when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPBearer
from redis.exceptions import RedisError

from ticktide_common.api_tokens import principal_for_token
from ticktide_common.logging import get_logger
from ticktide_common.principal import Principal
from ticktide_common.sessions import SessionStore, constant_time_equal

__all__ = [
    "Principal",
    "PRINCIPAL_SCOPE_KEY",
    "STATE_CHANGING_METHODS",
    "GuardedRoute",
    "authenticate",
    "identify",
    "PrincipalCheck",
    "principal_recheck",
    "current_principal",
    "require_admin",
    "CurrentPrincipal",
    "AdminPrincipal",
]

log = get_logger(__name__)

PRINCIPAL_SCOPE_KEY = "ticktide.principal"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"

Guard = Literal["user", "admin"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID_BEARER = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _unauthenticated(headers: dict[str, str]) -> HTTPException:
    return HTTPException(401, "authentication required", headers=headers)


def _bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header ("" when empty); None without
    one. Other schemes (Basic from a proxy in front, say) are not ours: ignored."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _resolve(request: Request) -> Principal:
    bearer = _bearer_token(request)
    if bearer is not None:
        if not bearer:
            raise _unauthenticated(_CHALLENGE)
        pool: asyncpg.Pool = request.state.pool
        try:
            principal = await principal_for_token(pool, bearer)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.error("auth.token_check_failed", error=repr(exc))
            raise HTTPException(503, "token store unavailable; try again shortly") from exc
        if principal is None:
            raise _unauthenticated(_INVALID_BEARER)
        return principal

    cookie = request.cookies.get(request.state.settings.session_cookie_name)
    if not cookie:
        raise _unauthenticated(_CHALLENGE)
    sessions: SessionStore = request.state.sessions
    try:
        session = await sessions.resolve(cookie)
    except (RedisError, OSError, TimeoutError) as exc:
        log.error("auth.session_check_failed", error=repr(exc))
        raise HTTPException(503, "session store unavailable; try again shortly") from exc
    if session is None:
        raise _unauthenticated(_CHALLENGE)
    return session


def _check_csrf(request: Request, principal: Principal) -> None:
    if principal.method != "session" or request.method not in STATE_CHANGING_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    expected = principal.csrf_token or ""
    if not sent or not expected or not constant_time_equal(sent, expected):
        raise HTTPException(
            403,
            "missing or wrong X-CSRF-Token header: a cookie-authenticated "
            f"{request.method} must send the csrf_token from GET /api/auth/me",
        )


async def authenticate(request: Request) -> Principal:
    """The caller, checked once per request (401/503), CSRF included (403)."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    principal = await _resolve(request)
    request.scope[PRINCIPAL_SCOPE_KEY] = principal
    _check_csrf(request, principal)
    return principal


async def identify(request: Request) -> Principal:
    """The caller (401/503 as `authenticate`), without the CSRF check: for page
    requests, whose forms carry their token to the API calls they make."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    principal = await _resolve(request)
    request.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


PrincipalCheck = Callable[[], Coroutine[Any, Any, str | None]]


def principal_recheck(request: Request, principal: Principal) -> PrincipalCheck:
    """A check, for a long response, of the credential the request came with:
    it answers why that credential no longer holds (session ended or timed out;
    token revoked, expired or its user disabled), or None while it does. A store
    that cannot answer counts as no: the response ends (fail closed)."""
    if principal.method == "token":
        pool: asyncpg.Pool = request.state.pool
        token = _bearer_token(request) or ""

        async def token_check() -> str | None:
            try:
                found = await principal_for_token(pool, token)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                log.error("auth.token_recheck_failed", error=repr(exc))
                return "the token could not be re-checked"
            if found is None or found.user_id != principal.user_id:
                return "the token was revoked or expired, or its user disabled"
            return None

        return token_check

    sessions: SessionStore = request.state.sessions

    async def session_check() -> str | None:
        try:
            live = await sessions.is_live(principal.credential_hash)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("auth.session_recheck_failed", error=repr(exc))
            return "the session could not be re-checked"
        return None if live else "the session ended"

    return session_check


def _authorize(principal: Principal, guard: Guard) -> None:
    if guard == "admin" and not principal.is_admin:
        raise HTTPException(403, "this endpoint requires the admin role")


# For the OpenAPI document only (its security schemes and each operation's
# `security`); the check itself is `authenticate`.
SESSION_COOKIE_SCHEME = APIKeyCookie(
    name="__Host-ticktide_session",
    scheme_name="session",
    description="Session cookie set by POST /api/auth/login; state-changing requests "
    "also send X-CSRF-Token (the csrf_token of login or /api/auth/me).",
    auto_error=False,
)
BEARER_SCHEME = HTTPBearer(
    scheme_name="bearer",
    description="Personal API token (POST /api/auth/tokens), `Authorization: Bearer ttk_...`.",
    auto_error=False,
)


async def current_principal(
    request: Request,
    _session: Annotated[str | None, Depends(SESSION_COOKIE_SCHEME)],
    _bearer: Annotated[object, Depends(BEARER_SCHEME)],
) -> Principal:
    """Any signed-in user (401 otherwise)."""
    return await authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """An admin (401 anonymous, 403 for a user)."""
    _authorize(principal, "admin")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def route_guard(dependant: Dependant) -> Guard | None:
    """The strictest of `require_admin` / `current_principal` among a route's
    dependencies (at any depth); None for a public route."""
    calls: set[object] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        calls.add(current.call)
        stack.extend(current.dependencies)
    if require_admin in calls:
        return "admin"
    if current_principal in calls:
        return "user"
    return None


class GuardedRoute(APIRoute):
    """An APIRoute that authenticates and authorizes before anything else runs."""

    @property
    def guard(self) -> Guard | None:
        return route_guard(self.dependant)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guard = self.guard
        if guard is None:
            return handler

        async def guarded(request: Request) -> Response:
            _authorize(await authenticate(request), guard)
            return await handler(request)

        return guarded
