"""Who is asking, and may they: the gateway's one authentication module.

- Who the caller is, and the CSRF rule, are `ticktide_common.principal_resolver`'s
  (the auth service uses the same resolver): session cookie or Bearer token, 401
  when neither checks out, 403 for a cookie-authenticated write without
  `X-CSRF-Token`, 503 when Redis or PostgreSQL fails (closed, never open). This
  module is the FastAPI wiring.
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

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPBearer

from ticktide_common.principal import Principal
from ticktide_common.principal_resolver import (
    STATE_CHANGING_METHODS,
    PrincipalRejected,
    PrincipalResolver,
    check_csrf,
    presented_credential,
)

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

PRINCIPAL_SCOPE_KEY = "ticktide.principal"

Guard = Literal["user", "admin"]


def principal_resolver(request: Request) -> PrincipalResolver:
    """The common resolver over this gateway's pool and session store."""
    state = request.state
    return PrincipalResolver(
        state.pool, state.sessions, cookie_name=state.settings.session_cookie_name
    )


def _http_error(exc: PrincipalRejected) -> HTTPException:
    return HTTPException(exc.status_code, exc.detail, headers=exc.headers or None)


async def identify(request: Request) -> Principal:
    """The caller (401/503), without the CSRF check: for page requests, whose
    forms carry their token to the API calls they make. Resolved once per request."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    try:
        principal = await principal_resolver(request).identify(request)
    except PrincipalRejected as exc:
        raise _http_error(exc) from None
    request.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


async def authenticate(request: Request) -> Principal:
    """The caller, checked once per request (401/503), CSRF included (403)."""
    principal = await identify(request)
    try:
        check_csrf(request, principal)
    except PrincipalRejected as exc:
        raise _http_error(exc) from None
    return principal


PrincipalCheck = Callable[[], Coroutine[Any, Any, str | None]]


def principal_recheck(request: Request, principal: Principal) -> PrincipalCheck:
    """A check, for a long response, of the credential the request came with
    (`PrincipalResolver.still_holds`): why it no longer holds, or None while it does."""
    resolver = principal_resolver(request)
    credential = presented_credential(request, resolver.cookie_name)

    async def recheck() -> str | None:
        return await resolver.still_holds(credential, principal)

    return recheck


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
