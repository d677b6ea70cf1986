"""The account statements both the auth service and the CLI's bootstrap need:
a new user, a security event, a personal API token (the token's format and
hashing are `ticktide_common.api_tokens`' and `sessions.hash_secret`), and
whether an administrator exists. The auth service's repository builds on this
class; everything else about accounts stays there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

__all__ = ["UserRow", "TokenRow", "TOKEN_COLUMNS", "AccountRepository"]


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    email: str
    password_hash: str
    role: str
    is_active: bool
    created_at: datetime
    last_login: datetime | None

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> UserRow:
        return cls(
            id=int(row["id"]),
            username=row["username"],
            email=row["email"],
            password_hash=row["password_hash"],
            role=row["user_level"],
            is_active=bool(row["is_active"]),
            created_at=row["created_at"],
            last_login=row["last_login"],
        )


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime


TOKEN_COLUMNS = "id, name, created_at, last_used_at, revoked_at, expires_at"
_INSERT_TOKEN = (
    "INSERT INTO api_tokens (user_id, name, token_hash, expires_at) "  # noqa: S608 - a constant
    "VALUES ($1, $2, $3, now() + make_interval(days => $4)) "
    f"RETURNING {TOKEN_COLUMNS}"
)
_INSERT_USER = """
INSERT INTO users (username, email, password_hash, user_level) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING id, username, email, password_hash, user_level, is_active, created_at, last_login
"""
_FIRST_ADMIN = """
SELECT id, username, email, password_hash, user_level, is_active, created_at, last_login
FROM users WHERE user_level = 'admin' AND is_active ORDER BY id LIMIT 1
"""


class AccountRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert_user(
        self, *, username: str, email: str, password_hash: str, role: str
    ) -> UserRow | None:
        """The new user, or None if the username or email is taken (any case)."""
        row = await self.pool.fetchrow(
            _INSERT_USER,
            username,
            email,
            password_hash,
            role,
        )
        return UserRow.from_record(row) if row else None

    async def first_admin(self) -> UserRow | None:
        """The oldest active administrator, None when there is none yet."""
        row = await self.pool.fetchrow(_FIRST_ADMIN)
        return UserRow.from_record(row) if row else None

    async def insert_token(
        self, user_id: int, name: str, token_hash: str, *, lifetime_days: int, max_live: int
    ) -> TokenRow | None:
        """The new token, or None when the user already holds `max_live` live
        (unrevoked, unexpired) tokens. The user's row lock serialises a burst."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
            live = await conn.fetchval(
                "SELECT count(*) FROM api_tokens "
                "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()",
                user_id,
            )
            if live >= max_live:
                return None
            row = await conn.fetchrow(
                _INSERT_TOKEN,
                user_id,
                name,
                token_hash,
                lifetime_days,
            )
        assert row is not None
        return TokenRow(**dict(row))

    async def insert_security_event(
        self,
        event_type: str,
        *,
        user_id: int | None,
        ip_address: str | None,
        details: dict[str, Any],
        username: str | None = None,
    ) -> None:
        """`username` names the event's user in text (it outlives the user row);
        by default the current name of `user_id`."""
        await self.pool.execute(
            "INSERT INTO security_events (event_type, user_id, username, ip_address, details) "
            "SELECT $1, u.id, coalesce($5::text, u.username), $3::inet, $4::jsonb "
            "FROM (SELECT $2::bigint AS wanted) w LEFT JOIN users u ON u.id = w.wanted",
            event_type,
            user_id,
            ip_address,
            json.dumps(details),
            username,
        )
