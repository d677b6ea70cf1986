"""The lifespan's typed state, and who is calling: the `Annotated` dependencies
routes declare. Who the caller is (Bearer API token or session cookie), the
CSRF rule and failing closed are `ticktide_common.principal_resolver`'s, the
gateway's too; this module wires it into FastAPI."""

from __future__ import annotations

import ipaddress
from typing import Annotated, TypedDict

import asyncpg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer

from ticktide_auth.admin_service import AdminService
from ticktide_auth.errors import Forbidden
from ticktide_auth.service import AuthService, RequestMeta
from ticktide_auth.settings import AuthSettings
from ticktide_common.principal import Principal
from ticktide_common.principal_resolver import CSRF_HEADER, PrincipalResolver
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER, client_address
from ticktide_common.sessions import SessionStore

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


class AuthState(TypedDict):
    settings: AuthSettings
    pool: asyncpg.Pool
    sessions: SessionStore
    principals: PrincipalResolver
    auth: AuthService
    admin: AdminService


async def get_settings(request: Request) -> AuthSettings:
    return request.state.settings  # type: ignore[no-any-return]


async def get_auth(request: Request) -> AuthService:
    return request.state.auth  # type: ignore[no-any-return]


async def get_admin(request: Request) -> AdminService:
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


async def request_meta(request: Request) -> RequestMeta:
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
    """The caller, or 401; 403 for a cookie-authenticated state-changing request
    without the right CSRF token; 503 when a store cannot answer
    (`PrincipalRejected`, answered by `ticktide_auth.errors`)."""
    principals: PrincipalResolver = request.state.principals
    return await principals.authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("administrators only")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth)]
AdminServiceDep = Annotated[AdminService, Depends(get_admin)]
MetaDep = Annotated[RequestMeta, Depends(request_meta)]
SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
