"""`/api/auth/*`: register (throttled per client IP), login (throttled per
account and IP), logout, me, password change, API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from ticktide_auth.cookies import expired_cookie, session_cookie
from ticktide_auth.deps import (
    AuthServiceDep,
    CurrentPrincipal,
    MetaDep,
    SettingsDep,
)
from ticktide_auth.schemas import (
    LoginRequest,
    PasswordChanged,
    PasswordChangeRequest,
    RegisterRequest,
    RegistrationAnswer,
    SessionInfo,
    TokenCreated,
    TokenCreateRequest,
    TokenOut,
)
from ticktide_auth.service import REGISTERED
from ticktide_common.principal_resolver import MAX_CREDENTIAL_LENGTH

__all__ = ["router", "MAX_ID"]

router = APIRouter(prefix="/api/auth", tags=["auth"])

MAX_ID = 2**63 - 1  # bigint
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, response_model=RegistrationAnswer)
async def register(
    body: RegisterRequest, auth: AuthServiceDep, meta: MetaDep
) -> RegistrationAnswer:
    """Anyone may register; the new account has the `user` role. The answer is
    202 with the same body whether the account was created or the username or
    email address was already registered (nothing is created then), so it does
    not tell who has an account; sign in to use the new one. 422 when the input
    breaks the policy (a weak password: the detail says why), 429 with
    Retry-After once the client IP has tried `REGISTRATION_MAX_PER_IP` times
    within `REGISTRATION_WINDOW_MINUTES` (before any password hashing)."""
    await auth.register(body.username, body.email, body.password, meta)
    return RegistrationAnswer(detail=REGISTERED)


@router.post("/login", response_model=SessionInfo)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    auth: AuthServiceDep,
    meta: MetaDep,
    settings: SettingsDep,
) -> SessionInfo:
    """A new session (cookie) and its CSRF token; 401 for any bad credential,
    429 with Retry-After when throttled."""
    previous = request.cookies.get(settings.session_cookie_name)
    if previous is not None and len(previous) > MAX_CREDENTIAL_LENGTH:
        previous = None
    user, session = await auth.login(body.username, body.password, meta, previous)
    max_age = int(settings.session_absolute_hours * 3600)
    response.headers.append(
        "set-cookie", session_cookie(settings.session_cookie_name, session.token, max_age)
    )
    _no_store(response)
    return SessionInfo(
        id=user.id,
        username=user.username,
        role=session.principal.role,
        csrf_token=session.csrf_token,
    )


@router.post("/logout")
async def logout(
    principal: CurrentPrincipal,
    response: Response,
    auth: AuthServiceDep,
    meta: MetaDep,
    settings: SettingsDep,
) -> dict[str, str]:
    await auth.logout(principal, meta)
    response.headers.append("set-cookie", expired_cookie(settings.session_cookie_name))
    return {"detail": "logged out" if principal.method == "session" else "no session to end"}


@router.get("/me", response_model=SessionInfo)
async def me(principal: CurrentPrincipal, response: Response) -> SessionInfo:
    _no_store(response)
    return SessionInfo(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        csrf_token=principal.csrf_token,
    )


@router.post("/password", response_model=PasswordChanged)
async def change_password(
    body: PasswordChangeRequest, principal: CurrentPrincipal, auth: AuthServiceDep, meta: MetaDep
) -> PasswordChanged:
    """Needs the current password (403 when wrong; throttled like a login);
    every other session of the user ends and every API token is revoked."""
    ended, revoked = await auth.change_password(
        principal, body.current_password, body.new_password, meta
    )
    return PasswordChanged(
        detail="password changed", other_sessions_ended=ended, tokens_revoked=revoked
    )


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses={409: {"description": "the user holds API_TOKEN_MAX_LIVE_PER_USER live tokens"}},
)
async def create_token(
    body: TokenCreateRequest,
    principal: CurrentPrincipal,
    auth: AuthServiceDep,
    meta: MetaDep,
    response: Response,
) -> TokenCreated:
    """From a signed-in session only (403 for a Bearer token), with the current
    password (403 when wrong, counted by the login throttle: 429 beyond). The
    token expires after `expires_in_days` (default 90, at most 365); 409 when
    the user already holds `API_TOKEN_MAX_LIVE_PER_USER` (20) live tokens."""
    row, token = await auth.create_token(
        principal, body.name, body.password, body.expires_in_days, meta
    )
    _no_store(response)
    return TokenCreated(
        id=row.id, name=row.name, token=token, created_at=row.created_at, expires_at=row.expires_at
    )


@router.get("/tokens", response_model=list[TokenOut])
async def list_tokens(principal: CurrentPrincipal, auth: AuthServiceDep) -> list[TokenOut]:
    """Every token of the caller's (a Bearer token may list them too), with its
    expiry, last use (to the minute) and state: live, expired or revoked."""
    now = datetime.now(UTC)
    return [TokenOut.of(t, now) for t in await auth.repo.list_tokens(principal.user_id)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    token_id: TokenId, principal: CurrentPrincipal, auth: AuthServiceDep, meta: MetaDep
) -> None:
    """A session revokes any token of its user; a Bearer token only itself (403
    for another: a leaked token must not lock its owner's other scripts out)."""
    await auth.revoke_token(principal, token_id, meta)
