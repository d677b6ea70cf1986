"""Request and response bodies of the auth API. Field bounds here only stop
absurd input early; the rules users read (username shape, password length,
email syntax) are in `policy` so the CLI applies the same ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticktide_auth.repository import TokenRow, UserRow

__all__ = [
    "RegisterRequest",
    "LoginRequest",
    "PasswordChangeRequest",
    "TokenCreateRequest",
    "AdminUserCreate",
    "AdminUserPatch",
    "RoleChange",
    "SessionInfo",
    "UserOut",
    "TokenOut",
    "TokenCreated",
    "RegistrationAnswer",
    "PasswordChanged",
]

# Generous outer bounds: the policy gives the precise message inside them.
Username = Annotated[str, Field(min_length=1, max_length=256)]
Email = Annotated[str, Field(min_length=1, max_length=512)]
Password = Annotated[str, Field(min_length=1, max_length=4096)]
RoleName = Literal["user", "admin"]


class RegisterRequest(BaseModel):
    username: Username
    email: Email
    password: Password


class LoginRequest(BaseModel):
    username: Username
    password: Password


class PasswordChangeRequest(BaseModel):
    current_password: Password
    new_password: Password


class TokenCreateRequest(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    password: Annotated[Password, Field(description="the current password of the signed-in user")]
    expires_in_days: Annotated[
        int | None,
        Field(
            ge=1,
            le=36500,
            description="lifetime in days (default API_TOKEN_DEFAULT_DAYS, at most "
            "API_TOKEN_MAX_DAYS: 90 and 365 unless configured)",
        ),
    ] = None


class AdminUserCreate(BaseModel):
    username: Username
    email: Email
    password: Password
    role: RoleName = "user"


class AdminUserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass silently

    email: Email | None = None
    role: RoleName | None = None
    is_active: bool | None = None
    password: Password | None = None


class RoleChange(BaseModel):
    role: RoleName


class SessionInfo(BaseModel):
    id: int
    username: str
    role: RoleName
    csrf_token: str | None  # None when authenticated by an API token


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    role: str
    is_active: bool
    created_at: datetime
    last_login: datetime | None

    @classmethod
    def of(cls, user: UserRow) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            last_login=user.last_login,
        )


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: Literal["live", "expired", "revoked"]

    @classmethod
    def of(cls, token: TokenRow, now: datetime) -> TokenOut:
        state: Literal["live", "expired", "revoked"] = (
            "revoked"
            if token.revoked_at is not None
            else "expired"
            if token.expires_at <= now
            else "live"
        )
        return cls(**token.__dict__, state=state)


class TokenCreated(BaseModel):
    id: int
    name: str
    token: str  # shown this once; only its SHA-256 is stored
    created_at: datetime
    expires_at: datetime


class RegistrationAnswer(BaseModel):
    """The same for a new account and for a name or address already taken."""

    detail: str


class PasswordChanged(BaseModel):
    detail: str
    other_sessions_ended: int
    tokens_revoked: int
