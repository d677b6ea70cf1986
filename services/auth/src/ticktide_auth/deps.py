"""The lifespan's typed state, and who is calling: the `Annotated` dependencies
routes declare. Authentication is a Bearer API token (checked in PostgreSQL)
or the session cookie (checked in Redis, one round trip); a cookie-
authenticated state-changing request must also carry the session's CSRF token
in `X-CSRF-Token`. Redis errors propagate and answer 503: nothing passes."""

from __future__ import annotations

import ipaddress
from typing import Annotated, TypedDict

import asyncpg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer

from ticktide_auth.admin_service import AdminService
from ticktide_auth.errors import Forbidden, NotAuthenticated
from ticktide_auth.service import AuthService, RequestMeta
from ticktide_common.api_tokens import principal_for_token
from ticktide_common.principal import Principal
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER, client_address
from ticktide_common.sessions import SessionStore, constant_time_equal
from ticktide_common.settings import Settings

__all__ = [
    "AuthState",
    "CSRF_HEADER",
    "client_ip",
    "authenticate",
    "CurrentPrincipal",
    "AdminPrincipal",
    "AuthServiceDep",
    "AdminServiceDep",
    "MetaDep",
    "SettingsDep",
]

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Our tokens are 43 characters; anything much longer is not one of ours.
MAX_CREDENTIAL_LENGTH = 256


class AuthState(TypedDict):
    settings: Settings
    pool: asyncpg.Pool
    sessions: SessionStore
    auth: AuthService
    admin: AdminService


def get_settings(request: Request) -> Settings:
    return request.state.settings  # type: ignore[no-any-return]


def get_auth(request: Request) -> AuthService:
    return request.state.auth  # type: ignore[no-any-return]


def get_admin(request: Request) -> AdminService:
    return request.state.admin  # type: ignore[no-any-return]


def client_ip(request: Request) -> str | None:
    """The client's address, if it is an IP address at all: `X-Forwarded-For` of a
    request that carries the proxy secret (the gateway's forwarder sets both), the
    socket's peer otherwise, whatever headers a direct caller sends."""
    peer = request.client.host if request.client else None
    secret = request.state.settings.ticktide_proxy_secret
    host = client_address(
        peer,
        request.headers.get("x-forwarded-for"),
        request.headers.get(PROXY_SECRET_HEADER),
        secret,
    )
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def request_meta(request: Request) -> RequestMeta:
    agent = request.headers.get("user-agent")
    return RequestMeta(ip_address=client_ip(request), user_agent=agent[:512] if agent else None)


# Declared for the OpenAPI document (so clients and the gateway's walk see that
# routes need a credential); the checks themselves are in `authenticate`.
_bearer_scheme = HTTPBearer(auto_error=False, description="a personal API token (ttk_...)")
_cookie_scheme = APIKeyCookie(name="__Host-ticktide_session", auto_error=False)


async def authenticate(
    request: Request,
    _bearer: Annotated[object, Depends(_bearer_scheme)] = None,
    _cookie: Annotated[object, Depends(_cookie_scheme)] = None,
) -> Principal:
    """The caller, or 401; 403 for a cookie-authenticated unsafe request
    without the right CSRF token."""
    authorization = request.headers.get("authorization")
    if authorization is not None:  # a Bearer request never falls back to the cookie
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_CREDENTIAL_LENGTH:
            raise NotAuthenticated("Authorization must be 'Bearer <API token>'")
        principal = await principal_for_token(request.state.pool, token)
        if principal is None:
            raise NotAuthenticated(
                "API token is invalid, expired or revoked, or its user is disabled"
            )
        return principal
    settings = get_settings(request)
    cookie = request.cookies.get(settings.session_cookie_name)
    if not cookie:
        raise NotAuthenticated("not logged in: POST /api/auth/login or send a Bearer token")
    if len(cookie) > MAX_CREDENTIAL_LENGTH:
        raise NotAuthenticated("session expired or ended; log in again")
    sessions: SessionStore = request.state.sessions
    principal = await sessions.resolve(cookie)
    if principal is None:
        raise NotAuthenticated("session expired or ended; log in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER.lower(), "")
        if not principal.csrf_token or not constant_time_equal(sent, principal.csrf_token):
            raise Forbidden(
                f"missing or wrong {CSRF_HEADER} header (take it from GET /api/auth/me)"
            )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("administrators only")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth)]
AdminServiceDep = Annotated[AdminService, Depends(get_admin)]
MetaDep = Annotated[RequestMeta, Depends(request_meta)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
