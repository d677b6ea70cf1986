"""Personal API tokens (`Authorization: Bearer ...`): how a presented token is
checked. The auth service creates, lists and revokes them (a password change
revokes them all); the gateway checks them with one query: live means not
revoked, not expired (`expires_at`) and of an active user. Only the token's
SHA-256 is stored."""

from __future__ import annotations

import asyncpg
from pydantic import Field

from ticktide_common.principal import Principal
from ticktide_common.sessions import hash_secret
from ticktide_common.settings import ServiceSettings

__all__ = ["TOKEN_PREFIX", "ApiTokenSettings", "principal_for_token"]

# Recognisable in logs and secret scanners; the rest is 256 random bits.
TOKEN_PREFIX = "ttk_"


class ApiTokenSettings(ServiceSettings):
    """Personal API tokens (issue 10, H3): they expire, and a user holds a bounded
    number of live ones (the auth service enforces it, the web's account page says so)."""

    api_token_default_days: int = Field(default=90, ge=1)
    api_token_max_days: int = Field(default=365, ge=1)
    api_token_max_live_per_user: int = Field(default=20, ge=1)


# One round trip; `last_used_at` is written at most once a minute per token, so a
# busy script does not turn every read into a row update.
_PRINCIPAL_FOR_TOKEN = """
WITH hit AS (
    SELECT t.id AS token_id, u.id, u.username, u.user_level
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.is_active
), touched AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE id = (SELECT token_id FROM hit)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT id, username, user_level FROM hit
"""


async def principal_for_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The token's user if the token is live (not revoked, not expired) and the
    user active, else None."""
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
