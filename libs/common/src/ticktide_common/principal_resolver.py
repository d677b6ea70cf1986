"""Who is calling: the one set of rules that turns a request's credential into a
`Principal` (auth and the gateway both use `PrincipalResolver`; their own modules
only wire it into FastAPI).

- The credential is `Authorization: Bearer <API token>` (checked in PostgreSQL,
  one query) or else the session cookie (checked in Redis, one round trip). A
  request with an `Authorization` header is judged by that header alone: another
  scheme (Basic, ...), an empty token or one longer than `MAX_CREDENTIAL_LENGTH`
  is a 401, never a fall back to the cookie. No credential at all is a 401.
- A token that is unknown, revoked or expired, or whose user is disabled, is a
  401; so is a session that is unknown, ended or timed out (disabling a user ends
  all of its sessions, `SessionStore.end_all`).
- A cookie-authenticated `STATE_CHANGING_METHODS` request must carry the
  session's CSRF token in `X-CSRF-Token` (compared in constant time), else 403.
  Bearer requests need none: a browser never attaches that header on its own.
- Redis or PostgreSQL failing is a 503: the check fails closed, nothing passes.

Each refusal is a `PrincipalRejected` (status, detail, headers), which a service
turns into its own error response unchanged, so the same request gets the same
answer from every service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
from redis.exceptions import RedisError
from starlette.requests import Request

from ticktide_common.api_tokens import principal_for_token
from ticktide_common.logging import get_logger
from ticktide_common.principal import AuthMethod, Principal
from ticktide_common.sessions import SessionStore, constant_time_equal

__all__ = [
    "STATE_CHANGING_METHODS",
    "CSRF_HEADER",
    "MAX_CREDENTIAL_LENGTH",
    "PrincipalRejected",
    "Credential",
    "presented_credential",
    "check_csrf",
    "PrincipalResolver",
]

log = get_logger(__name__)

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
# Our tokens are 43 characters (47 with `ttk_`); anything much longer is not one of ours.
MAX_CREDENTIAL_LENGTH = 256
RETRY_AFTER_SECONDS = 5

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID_REQUEST = {"WWW-Authenticate": 'Bearer error="invalid_request"'}
_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_TOKEN_STORE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_SESSION_STORE_ERRORS = (RedisError, OSError, TimeoutError)


class PrincipalRejected(Exception):
    """The request's credential does not make a principal: 401, 403 (CSRF) or 503."""

    def __init__(self, status_code: int, detail: str, headers: Mapping[str, str]) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers)


def _unauthenticated(detail: str, headers: Mapping[str, str] = _CHALLENGE) -> PrincipalRejected:
    return PrincipalRejected(401, detail, headers)


def _unavailable(store: str) -> PrincipalRejected:
    return PrincipalRejected(
        503,
        f"{store} store unavailable; try again shortly",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@dataclass(frozen=True)
class Credential:
    """What a request presented: an API token or a session cookie's token."""

    method: AuthMethod
    secret: str = ""


def presented_credential(request: Request, cookie_name: str) -> Credential:
    """The request's credential, or `PrincipalRejected` (401) when it has none
    or a malformed one."""
    authorization = request.headers.get("authorization")
    if authorization is not None:  # judged by this header alone, never the cookie
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_CREDENTIAL_LENGTH:
            raise _unauthenticated("Authorization must be 'Bearer <API token>'", _INVALID_REQUEST)
        return Credential("token", token)
    cookie = request.cookies.get(cookie_name)
    if not cookie:
        raise _unauthenticated("authentication required")
    if len(cookie) > MAX_CREDENTIAL_LENGTH:
        raise _unauthenticated("session expired or ended; log in again")
    return Credential("session", cookie)


def check_csrf(request: Request, principal: Principal) -> None:
    """403 for a cookie-authenticated state-changing request without the
    session's CSRF token."""
    if principal.method != "session" or request.method not in STATE_CHANGING_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    expected = principal.csrf_token or ""
    if not sent or not expected or not constant_time_equal(sent, expected):
        raise PrincipalRejected(
            403,
            f"missing or wrong {CSRF_HEADER} header: a cookie-authenticated "
            f"{request.method} must send the csrf_token from GET /api/auth/me",
            {},
        )


class PrincipalResolver:
    """Resolves a request's principal from PostgreSQL (API tokens) and the Redis
    session store, by the rules in this module's docstring."""

    def __init__(self, pool: asyncpg.Pool, sessions: SessionStore, *, cookie_name: str) -> None:
        self.pool = pool
        self.sessions = sessions
        self.cookie_name = cookie_name

    async def identify(self, request: Request) -> Principal:
        """The caller (401/503), without the CSRF check."""
        return await self.principal_for(presented_credential(request, self.cookie_name))

    async def authenticate(self, request: Request) -> Principal:
        """The caller (401/503), CSRF included (403)."""
        principal = await self.identify(request)
        check_csrf(request, principal)
        return principal

    async def principal_for(self, credential: Credential) -> Principal:
        if credential.method == "token":
            try:
                found = await principal_for_token(self.pool, credential.secret)
            except _TOKEN_STORE_ERRORS as exc:
                log.error("auth.token_check_failed", error=repr(exc))
                raise _unavailable("token") from exc
            if found is None:
                raise _unauthenticated(
                    "API token is invalid, expired or revoked, or its user is disabled",
                    _INVALID_TOKEN,
                )
            return found
        try:
            session = await self.sessions.resolve(credential.secret)
        except _SESSION_STORE_ERRORS as exc:
            log.error("auth.session_check_failed", error=repr(exc))
            raise _unavailable("session") from exc
        if session is None:
            raise _unauthenticated("session expired or ended; log in again")
        return session

    async def still_holds(self, credential: Credential, principal: Principal) -> str | None:
        """For a long response: why the credential it started with no longer holds
        (session ended or timed out; token revoked, expired or its user disabled),
        or None while it does. A session's idle window does not slide. A store that
        cannot answer counts as no (fail closed)."""
        if principal.method == "token":
            try:
                found = await principal_for_token(self.pool, credential.secret)
            except _TOKEN_STORE_ERRORS as exc:
                log.error("auth.token_recheck_failed", error=repr(exc))
                return "the token could not be re-checked"
            if found is None or found.user_id != principal.user_id:
                return "the token was revoked or expired, or its user disabled"
            return None
        try:
            live = await self.sessions.is_live(principal.credential_hash)
        except _SESSION_STORE_ERRORS as exc:
            log.error("auth.session_recheck_failed", error=repr(exc))
            return "the session could not be re-checked"
        return None if live else "the session ended"
