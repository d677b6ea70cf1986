"""The session cookie's exact `Set-Cookie` lines. Written out by hand so the
attributes are exactly the contract's: `__Host-` prefix (which requires Secure,
Path=/ and no Domain), HttpOnly, SameSite=Lax."""

from __future__ import annotations

__all__ = ["session_cookie", "expired_cookie"]

_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Lax"


def session_cookie(name: str, token: str, max_age_seconds: int) -> str:
    return f"{name}={token}; Max-Age={max_age_seconds}; {_ATTRIBUTES}"


def expired_cookie(name: str) -> str:
    return f'{name}=""; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {_ATTRIBUTES}'
