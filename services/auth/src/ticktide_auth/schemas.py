"""Request and response bodies of the auth API.

The rules users read (username shape, email syntax, a new password's length and
strength) are checked by `policy`, so the CLI applies the same ones and its
messages are what a user sees. The schemas declare those rules too (issue 10),
from the policy's own constants, so the OpenAPI document says what is enforced:
a username's length and pattern, an address's format, length and refused
domains. A new password's length and a token's lifetime depend on settings:
their fields carry a `SETTING_BOUND` mark that `openapi` fills in with this
deployment's values. Other bounds (a login's fields) only stop absurd input."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticktide_auth.repository import TokenRow, UserRow
from ticktide_common.accounts.policy import (
    EMAIL_MAX,
    EMAIL_REFUSED_DOMAINS,
    USERNAME_MAX,
    USERNAME_MIN,
    USERNAME_PATTERN,
)

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
    "SETTING_BOUND",
    "NEW_PASSWORD",
    "TOKEN_DAYS",
    "TOKEN_DAYS_LIMIT",
    "email_pattern",
]

# The JSON Schema key of a field whose bounds come from settings, and its values.
SETTING_BOUND = "x-ticktide-setting-bound"
NEW_PASSWORD = "new_password"  # PASSWORD_MIN_LENGTH..PASSWORD_MAX_LENGTH characters
TOKEN_DAYS = "token_days"  # 1..API_TOKEN_MAX_DAYS
TOKEN_DAYS_LIMIT = 36500  # the outer bound pydantic checks; the service checks the setting


def email_pattern(refused_domains: tuple[str, ...]) -> str:
    """A JSON Schema (ECMA-262) pattern of what the policy's email check needs
    beyond the `idn-email` format: a dot in the domain, no quoted local part or
    IP-literal domain (no `"`, `[` or `]`), no whitespace, a domain ending with a
    letter, and a domain that is not
    one of `refused_domains` nor below one, in any case. (email_validator refuses
    more, e.g. two dots in a row; no regex here claims to be all of it.)"""

    def any_case(name: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)

    for name in refused_domains:
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", name):
            raise ValueError(f"cannot write a pattern for the domain {name!r}")
    names = "|".join(any_case(name).replace(".", r"\.") for name in refused_domains)
    refused = rf"(?![\s\S]*[@.](?:{names})$)"
    # ... and a domain that ends with a letter (email_validator: "all TLDs currently
    # end with a letter"; an internationalised one may end with any non-ASCII letter).
    return rf'^{refused}[^\s"@]+@[^\s"@\[\]]+\.[^\s"@\[\]]*[A-Za-z\u0080-\uffff]$'


# A new account's name and address: the policy checks them (with its own messages);
# the schema states the same rules.
NewUsername = Annotated[
    str,
    Field(
        json_schema_extra={
            "minLength": USERNAME_MIN,
            "maxLength": USERNAME_MAX,
            "pattern": USERNAME_PATTERN,
        },
        description=f"{USERNAME_MIN}-{USERNAME_MAX} letters, digits, '_', '.' or '-'",
    ),
]
Email = Annotated[
    str,
    Field(
        json_schema_extra={
            "format": "idn-email",
            "maxLength": EMAIL_MAX,
            "pattern": email_pattern(EMAIL_REFUSED_DOMAINS),
        },
        description="an email address (internationalised ones too), checked for syntax "
        "only; special-use domains (" + ", ".join(EMAIL_REFUSED_DOMAINS) + ") are refused",
    ),
]
NewPassword = Annotated[
    str,
    Field(
        json_schema_extra={SETTING_BOUND: NEW_PASSWORD},
        description="PASSWORD_MIN_LENGTH to PASSWORD_MAX_LENGTH characters; it must also "
        "not contain the username or the service's name, not be a common password and "
        "reach a zxcvbn strength of PASSWORD_MIN_SCORE (the 422 says which rule failed)",
    ),
]
# A token's lifetime in days: at most API_TOKEN_MAX_DAYS, which the service checks.
TokenDays = Annotated[
    int, Field(ge=1, le=TOKEN_DAYS_LIMIT, json_schema_extra={SETTING_BOUND: TOKEN_DAYS})
]
# Login and the current password: any stored account's, so only absurd input stops here.
Username = Annotated[str, Field(min_length=1, max_length=256)]
Password = Annotated[str, Field(min_length=1, max_length=4096)]
RoleName = Literal["user", "admin"]


class RegisterRequest(BaseModel):
    username: NewUsername
    email: Email
    password: NewPassword


class LoginRequest(BaseModel):
    username: Username
    password: Password


class PasswordChangeRequest(BaseModel):
    current_password: Password
    new_password: NewPassword


class TokenCreateRequest(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    password: Annotated[Password, Field(description="the current password of the signed-in user")]
    expires_in_days: Annotated[
        TokenDays | None,
        Field(
            description="lifetime in days (default API_TOKEN_DEFAULT_DAYS, at most "
            "API_TOKEN_MAX_DAYS: 90 and 365 unless configured)",
        ),
    ] = None


class AdminUserCreate(BaseModel):
    username: NewUsername
    email: Email
    password: NewPassword
    role: RoleName = "user"


class AdminUserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass silently

    email: Email | None = None
    role: RoleName | None = None
    is_active: bool | None = None
    password: NewPassword | None = None


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
