"""Users and API tokens made straight in the database, for tests that need to
call the API as someone without going through login."""

from __future__ import annotations

import uuid

import asyncpg

from ticktide_common.api_tokens import TOKEN_PREFIX
from ticktide_common.principal import Role
from ticktide_common.sessions import hash_secret, new_secret

__all__ = ["create_test_user", "create_test_token", "bearer"]

# Not a valid password hash of any scheme: nobody can log in with a password.
UNUSABLE_PASSWORD_HASH = "!unusable"


async def create_test_user(
    pool: asyncpg.Pool, *, role: Role = "user", username: str | None = None
) -> tuple[int, str]:
    name = username or f"{role}-{uuid.uuid4().hex[:8]}"
    user_id = await pool.fetchval(
        "INSERT INTO users (username, email, password_hash, user_level) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        name,
        f"{name}@example.test",
        UNUSABLE_PASSWORD_HASH,
        role,
    )
    return int(user_id), name


async def create_test_token(pool: asyncpg.Pool, user_id: int, name: str = "tests") -> str:
    token = TOKEN_PREFIX + new_secret()
    await pool.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3)",
        user_id,
        name,
        hash_secret(token),
    )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
