"""Who is asking: the one place the auth issue will change.

Every `/api` route except health depends on `current_principal` (user routes)
or `require_admin` (admin routes), wired at router level. Until sessions and
tokens exist, every request is the anonymous principal and is let through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

__all__ = [
    "Principal",
    "ANONYMOUS",
    "current_principal",
    "require_admin",
    "CurrentPrincipal",
    "AdminPrincipal",
]

Role = Literal["anonymous", "user", "admin"]


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    role: Role

    @property
    def name(self) -> str:
        return "anonymous" if self.user_id is None else f"user:{self.user_id}"


ANONYMOUS = Principal(user_id=None, role="anonymous")


async def current_principal(request: Request) -> Principal:
    """The caller. Today: always anonymous (the contract's auth is a later issue)."""
    return ANONYMOUS


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """Admin-only routes. Today anonymous is allowed; later: 401 / 403."""
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
