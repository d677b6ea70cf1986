"""Who is making a request, as every service sees it after authentication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Role", "AuthMethod", "Principal"]

Role = Literal["user", "admin"]
AuthMethod = Literal["session", "token"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user reached through a session cookie or an API token."""

    user_id: int
    username: str
    role: Role
    method: AuthMethod
    # Session: SHA-256 of the session token (the store's key) and its CSRF token.
    # API token: SHA-256 of the bearer token. Never the token itself.
    credential_hash: str
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
