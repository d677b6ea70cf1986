"""Every SQL statement of the auth service; all parameterised.

Changes that could remove an administrator run in one transaction under an
advisory lock, so two admins demoting each other at once cannot leave none.
A new password hash and the revocation of the user's API tokens are one
transaction; a new token and the count of the user's live ones are one too
(under the user's row lock), so a burst cannot pass the cap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ticktide_common.accounts.repository import (
    TOKEN_COLUMNS,
    AccountRepository,
    TokenRow,
    UserRow,
)

__all__ = ["UserRow", "TokenRow", "AuthRepository", "LastAdminError"]

# Any constant works; it only has to be the same for every admin-changing transaction.
_ADMINS_LOCK = 0x7454_6164_6D69  # "tTadmi"


class LastAdminError(Exception):
    """The change would leave no active administrator."""


_REVOKE_TOKENS = (
    "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
)

_USER_BY_NAME = """
SELECT id, username, email, password_hash, user_level, is_active, created_at, last_login
FROM users WHERE lower(username) = lower($1)
"""
_USER_BY_ID = """
SELECT id, username, email, password_hash, user_level, is_active, created_at, last_login
FROM users WHERE id = $1
"""
_USER_COLUMNS = "id, username, email, password_hash, user_level, is_active, created_at, last_login"
_LOCK_USER = """
SELECT id, username, email, password_hash, user_level, is_active, created_at, last_login
FROM users WHERE id = $1 FOR UPDATE
"""
_UPDATE_USER = """
UPDATE users SET
    email = coalesce($2, email),
    user_level = coalesce($3, user_level),
    is_active = coalesce($4, is_active),
    password_hash = coalesce($5, password_hash),
    password_changed_at = CASE WHEN $5::text IS NULL THEN password_changed_at ELSE now() END
WHERE id = $1
RETURNING id, username, email, password_hash, user_level, is_active, created_at, last_login
"""
_DELETE_USER = """
DELETE FROM users WHERE id = $1
RETURNING id, username, email, password_hash, user_level, is_active, created_at, last_login
"""

# "Does this change take away an active admin?" is a pure function of the row
# before and after (None: deleted); the repository asks it while holding the lock.
AdminGuard = Callable[[UserRow, UserRow | None], bool]


class AuthRepository(AccountRepository):
    """Every other statement of the auth service, over the account statements
    it shares with the CLI's bootstrap."""

    # users ---------------------------------------------------------------

    async def user_by_username(self, username: str) -> UserRow | None:
        row = await self.pool.fetchrow(
            _USER_BY_NAME,
            username,
        )
        return UserRow.from_record(row) if row else None

    async def user_by_id(self, user_id: int) -> UserRow | None:
        row = await self.pool.fetchrow(
            _USER_BY_ID,
            user_id,
        )
        return UserRow.from_record(row) if row else None

    async def list_users(
        self,
        *,
        limit: int,
        offset: int = 0,
        search: str | None = None,
        role: str | None = None,
        active: bool | None = None,
        after: int | None = None,
    ) -> list[UserRow]:
        """Users in id order: `search` is a case-insensitive substring of the
        username or the email (trigram-indexed where pg_trgm is installed),
        `after` the keyset cursor (the last id of the previous page)."""
        where = _Where()
        if search:
            pattern = where.bind("%" + like_escape(search.lower()) + "%")
            where.add(
                f"(lower(username) LIKE {pattern} ESCAPE '\\' "
                f"OR lower(email) LIKE {pattern} ESCAPE '\\')"
            )
        if role is not None:
            where.add(f"user_level = {where.bind(role)}")
        if active is not None:
            where.add(f"is_active = {where.bind(active)}")
        if after is not None:
            where.add(f"id > {where.bind(after)}")
        sql = (
            f"SELECT {_USER_COLUMNS} FROM users{where.sql()} ORDER BY id "  # noqa: S608 - _Where
            f"LIMIT {where.bind(limit)} OFFSET {where.bind(offset)}"
        )
        rows = await self.pool.fetch(sql, *where.args)
        return [UserRow.from_record(r) for r in rows]

    async def record_login(self, user_id: int, updated_hash: str | None) -> None:
        await self.pool.execute(
            "UPDATE users SET last_login = now(), "
            "password_hash = coalesce($2, password_hash) WHERE id = $1",
            user_id,
            updated_hash,
        )

    async def set_password(self, user_id: int, password_hash: str) -> int:
        """Store the new hash and revoke every live API token of the user, in one
        transaction; returns how many tokens were revoked."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
                user_id,
                password_hash,
            )
            return _row_count(await conn.execute(_REVOKE_TOKENS, user_id))

    async def update_user(
        self,
        user_id: int,
        *,
        email: str | None = None,
        role: str | None = None,
        is_active: bool | None = None,
        password_hash: str | None = None,
        removes_admin: AdminGuard,
    ) -> tuple[UserRow, UserRow, int] | None:
        """(before, after, API tokens revoked), None if there is no such user; a
        new password revokes the user's tokens in the same transaction. Raises
        LastAdminError (changing nothing) when the change `removes_admin` and no
        other active admin exists, asyncpg.UniqueViolationError for a taken email."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADMINS_LOCK)
            before = await conn.fetchrow(
                _LOCK_USER,
                user_id,
            )
            if before is None:
                return None
            row = await conn.fetchrow(
                _UPDATE_USER,
                user_id,
                email,
                role,
                is_active,
                password_hash,
            )
            assert row is not None  # the row is locked: it is still there
            previous, after = UserRow.from_record(before), UserRow.from_record(row)
            if removes_admin(previous, after) and not await self._other_admin(conn, user_id):
                raise LastAdminError(user_id)  # rolls the update back
            revoked = 0
            if password_hash is not None:
                revoked = _row_count(await conn.execute(_REVOKE_TOKENS, user_id))
            return previous, after, revoked

    async def delete_user(self, user_id: int, *, removes_admin: AdminGuard) -> UserRow | None:
        """The deleted user, None if absent; LastAdminError when it is the last admin."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADMINS_LOCK)
            row = await conn.fetchrow(
                _DELETE_USER,
                user_id,
            )
            if row is None:
                return None
            deleted = UserRow.from_record(row)
            if removes_admin(deleted, None) and not await self._other_admin(conn, user_id):
                raise LastAdminError(user_id)
            return deleted

    @staticmethod
    async def _other_admin(conn: Any, user_id: int) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM users WHERE user_level = 'admin' "
                "AND is_active AND id <> $1)",
                user_id,
            )
        )

    # API tokens ------------------------------------------------------------

    async def list_tokens(self, user_id: int) -> list[TokenRow]:
        rows = await self.pool.fetch(
            f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id",  # noqa: S608
            user_id,
        )
        return [TokenRow(**dict(r)) for r in rows]

    async def token_id_by_hash(self, token_hash: str) -> int | None:
        token_id = await self.pool.fetchval(
            "SELECT id FROM api_tokens WHERE token_hash = $1", token_hash
        )
        return int(token_id) if token_id is not None else None

    async def revoke_token(self, user_id: int, token_id: int) -> bool:
        """True if a live token of this user was revoked."""
        revoked = await self.pool.fetchval(
            "UPDATE api_tokens SET revoked_at = now() "
            "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id",
            token_id,
            user_id,
        )
        return revoked is not None

    # logs ------------------------------------------------------------------

    async def security_events(
        self,
        *,
        limit: int,
        event_type: str | None = None,
        user_id: int | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first (timestamp, then id); `before` is the keyset cursor: the
        (timestamp, id) of the last event of the previous page."""
        where = _Where()
        if event_type is not None:
            where.add(f"event_type = {where.bind(event_type)}")
        if username is not None:  # the stored name: it outlives the user row
            where.add(f"lower(username) = lower({where.bind(username)})")
        _log_filters(where, user_id, None, since, until, before)
        rows = await self.pool.fetch(
            "SELECT id, event_type, user_id, "  # noqa: S608 - constants and _Where
            f"coalesce(username, {_USERNAME_OF_ROW}) AS username, "
            "host(ip_address) AS ip_address, "
            f"details::text AS details, timestamp FROM security_events{where.sql()} "
            f"ORDER BY timestamp DESC, id DESC LIMIT {where.bind(limit)}",
            *where.args,
        )
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    async def activity(
        self,
        *,
        limit: int,
        user_id: int | None = None,
        action: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first, as `security_events`."""
        where = _Where()
        if action is not None:
            where.add(f"action = {where.bind(action)}")
        _log_filters(where, user_id, username, since, until, before)
        rows = await self.pool.fetch(
            "SELECT id, event_id, user_id, action, "  # noqa: S608 - constants and _Where
            f"coalesce({_USERNAME_OF_ROW}, details->>'username') AS username, "
            "host(ip_address) AS ip_address, user_agent, "
            f"details::text AS details, timestamp FROM user_activity_log{where.sql()} "
            f"ORDER BY timestamp DESC, id DESC LIMIT {where.bind(limit)}",
            *where.args,
        )
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


# The user's current name beside each log row (null once deleted): a primary-key
# lookup per row of one page. A subquery, not a join, so the filters' bare
# column names stay the log's own. Once the user is deleted, a security event
# shows its stored `username`, an activity row the `username` of its details.
_USERNAME_OF_ROW = "(SELECT u.username FROM users u WHERE u.id = user_id)"


def _row_count(status: str) -> int:
    """The row count of an asyncpg command status such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])


def like_escape(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Where:
    """A WHERE clause built from this module's constant fragments; every value
    travels as a numbered parameter ($1, $2, ...), never in the SQL text. Only
    the filters asked for are in the statement, so each combination gets a plan
    that uses its index (no `$n IS NULL OR ...` catch-alls)."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self._conditions: list[str] = []

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str) -> None:
        self._conditions.append(condition)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self._conditions) if self._conditions else ""


def _log_filters(
    where: _Where,
    user_id: int | None,
    username: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, int] | None,
) -> None:
    """The filters both logs share: whose, when, and the keyset cursor."""
    if user_id is not None:
        where.add(f"user_id = {where.bind(user_id)}")
    if username is not None:
        name = where.bind(username)
        where.add(f"user_id = (SELECT id FROM users WHERE lower(username) = lower({name}))")  # noqa: S608
    if since is not None:
        where.add(f"timestamp >= {where.bind(since)}")
    if until is not None:
        where.add(f"timestamp < {where.bind(until)}")
    if before is not None:
        moment, last_id = before
        where.add(f"(timestamp, id) < ({where.bind(moment)}, {where.bind(last_id)})")
