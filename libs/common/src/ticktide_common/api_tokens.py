"""Personal API tokens (`Authorization: Bearer ...`): how a presented token is
checked. The auth service creates, lists and revokes them; the gateway checks
them with one query. Only the token's SHA-256 is stored."""

from __future__ import annotations

import asyncpg

from ticktide_common.principal import Principal
from ticktide_common.sessions import hash_secret

__all__ = ["TOKEN_PREFIX", "principal_for_token"]

# Recognisable in logs and secret scanners; the rest is 256 random bits.
TOKEN_PREFIX = "ttk_"

_PRINCIPAL_FOR_TOKEN = """
UPDATE api_tokens t
SET last_used_at = now()
FROM users u
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.id = t.user_id AND u.is_active
RETURNING u.id, u.username, u.user_level
"""


async def principal_for_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The token's user if the token is live and the user active, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    token_hash = hash_secret(token)
    row = await pool.fetchrow(_PRINCIPAL_FOR_TOKEN, token_hash)
    if row is None:
        return None
    return Principal(
        user_id=int(row["id"]),
        username=row["username"],
        role="admin" if row["user_level"] == "admin" else "user",
        method="token",
        credential_hash=token_hash,
    )
