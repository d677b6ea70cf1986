"""Making a user: the one path for registration, the admin API and
`ticktide user create`, so every user passes the same policy and is logged the
same way. Registration passes an `admit` check (its per-IP throttle), run once
the input passes the policy and before the password is hashed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ticktide_common.accounts.passwords import PasswordHasher
from ticktide_common.accounts.policy import (
    DEFAULT_MIN_SCORE,
    check_password,
    check_username,
    normalise_email,
)
from ticktide_common.accounts.repository import AccountRepository, UserRow
from ticktide_common.principal import Role

__all__ = ["DuplicateUser", "PasswordLimits", "create_user", "CreatedVia"]

CreatedVia = Literal["register", "admin", "cli"]


class DuplicateUser(Exception):
    """The username or the email address is already registered (in any case)."""


@dataclass(frozen=True)
class PasswordLimits:
    min_length: int
    max_length: int
    min_score: int = DEFAULT_MIN_SCORE

    async def check(self, password: str, username: str | None) -> str:
        """`check_password` off the event loop (a strength estimate takes up to
        tens of milliseconds)."""
        return await asyncio.to_thread(
            check_password,
            password,
            min_length=self.min_length,
            max_length=self.max_length,
            username=username,
            min_score=self.min_score,
        )


async def create_user(
    repo: AccountRepository,
    hasher: PasswordHasher,
    limits: PasswordLimits,
    *,
    username: str,
    email: str | None,
    password: str,
    role: Role,
    via: CreatedVia,
    actor_id: int | None = None,
    ip_address: str | None = None,
    admit: Callable[[], Awaitable[None]] | None = None,
) -> UserRow:
    """Check, admit, hash, insert, log. `email=None` (CLI only) stores
    `<username>@localhost`. Raises PolicyError for bad input, DuplicateUser, or
    whatever `admit` raises to refuse; nothing is stored then."""
    check_username(username)
    address = normalise_email(email) if email is not None else f"{username.lower()}@localhost"
    await limits.check(password, username)
    if admit is not None:
        await admit()
    password_hash = await hasher.hash(password)
    user = await repo.insert_user(
        username=username, email=address, password_hash=password_hash, role=role
    )
    if user is None:
        raise DuplicateUser(username)
    await repo.insert_security_event(
        "register" if via == "register" else "user_created",
        user_id=user.id,
        ip_address=ip_address,
        details={"username": user.username, "role": role, "via": via, "actor_id": actor_id},
    )
    return user
