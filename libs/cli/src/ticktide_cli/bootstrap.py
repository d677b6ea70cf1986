"""What the CLI does straight in PostgreSQL, on the stack's host only: the
first administrator (`ticktide user create --admin` while no admin exists, by
the accounts code auth uses, so the same policy, hashing and security event
apply) and the operator token (`make up`: a personal API token of the first
admin in `$TICKTIDE_RUN_DIR/operator-token`, mode 0600, which the CLI uses when
no other credential is given; replaced when it is no longer valid)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from ticktide_cli.credentials import operator_token_path, write_secret_file
from ticktide_cli.errors import CliError
from ticktide_cli.settings import CliSettings, get_settings
from ticktide_common.accounts.creation import DuplicateUser, PasswordLimits, create_user
from ticktide_common.accounts.passwords import PasswordHasher
from ticktide_common.accounts.policy import PolicyError
from ticktide_common.accounts.repository import AccountRepository, UserRow
from ticktide_common.api_tokens import TOKEN_PREFIX
from ticktide_common.db import wait_for_database
from ticktide_common.sessions import hash_secret, new_secret

__all__ = [
    "OPERATOR_TOKEN_NAME",
    "admin_exists",
    "create_first_admin",
    "ensure_operator_token",
]

OPERATOR_TOKEN_NAME = "operator (make up)"
# A valid operator token is kept across `make up`s; one that expires within
# this many days is replaced.
_RENEW_BEFORE_DAYS = 30

_TOKEN_IS_LIVE = """
SELECT EXISTS (
    SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.is_active AND u.user_level = 'admin'
      AND t.expires_at > now() + make_interval(days => $2)
)
"""


@asynccontextmanager
async def _accounts(settings: CliSettings) -> AsyncIterator[AccountRepository]:
    try:
        await wait_for_database(settings.database_url, timeout=10)
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=1, server_settings={"timezone": "UTC"}
        )
    except Exception as exc:
        raise CliError(f"cannot reach PostgreSQL at DATABASE_URL: {exc}") from exc
    assert pool is not None
    try:
        yield AccountRepository(pool)
    except asyncpg.UndefinedTableError:
        raise CliError("the users table is missing; run `ticktide migrate` first") from None
    finally:
        await pool.close()


async def admin_exists(settings: CliSettings) -> bool:
    async with _accounts(settings) as accounts:
        return await accounts.first_admin() is not None


async def _write_operator_token(accounts: AccountRepository, admin: UserRow, path: Path) -> None:
    settings = get_settings()
    token = TOKEN_PREFIX + new_secret()
    row = await accounts.insert_token(
        admin.id,
        OPERATOR_TOKEN_NAME,
        hash_secret(token),
        lifetime_days=settings.api_token_max_days,
        max_live=settings.api_token_max_live_per_user,
    )
    if row is None:
        raise CliError(
            f"{admin.username} holds {settings.api_token_max_live_per_user} live API tokens, "
            "the most allowed: revoke one (DELETE /api/auth/tokens/{id}) for the operator token"
        )
    await accounts.insert_security_event(
        "token_created",
        user_id=admin.id,
        ip_address=None,
        details={"token_id": row.id, "name": OPERATOR_TOKEN_NAME, "via": "cli"},
    )
    write_secret_file(path, token + "\n")


async def create_first_admin(
    settings: CliSettings, *, username: str, email: str | None, password: str
) -> UserRow:
    """The first administrator, and the operator token for it; refused once an admin exists."""
    async with _accounts(settings) as accounts:
        if await accounts.first_admin() is not None:
            raise CliError(
                "an administrator exists already: sign in as one (`ticktide login`, or "
                "TICKTIDE_TOKEN) to create users through the API"
            )
        try:
            user = await create_user(
                accounts,
                PasswordHasher(max_concurrent=1),
                PasswordLimits(
                    settings.password_min_length,
                    settings.password_max_length,
                    settings.password_min_score,
                ),
                username=username,
                email=email,
                password=password,
                role="admin",
                via="cli",
            )
        except PolicyError as exc:
            raise CliError(str(exc)) from None
        except DuplicateUser:
            raise CliError(
                f"a user named '{username}' (in any case) or with that email already exists"
            ) from None
        await _write_operator_token(accounts, user, operator_token_path())
        return user


async def ensure_operator_token(settings: CliSettings, path: Path) -> str:
    """Keep a live operator token at `path` or write a new one; what was done."""
    async with _accounts(settings) as accounts:
        admin = await accounts.first_admin()
        if admin is None:
            return "no administrator yet"
        current = await asyncio.to_thread(_read_token, path)
        if current and await accounts.pool.fetchval(
            _TOKEN_IS_LIVE, hash_secret(current), _RENEW_BEFORE_DAYS
        ):
            return "kept"
        await _write_operator_token(accounts, admin, path)
        return f"created for {admin.username}"


def _read_token(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def main(argv: list[str] | None = None) -> int:
    """`python -m ticktide_cli.bootstrap operator-token`: what scripts/up.sh runs."""
    parser = argparse.ArgumentParser(prog="ticktide_cli.bootstrap")
    parser.add_argument("command", choices=["operator-token"])
    parser.parse_args(argv)
    path = operator_token_path()
    try:
        outcome = asyncio.run(ensure_operator_token(get_settings(), path))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"operator token ({path}): {outcome}")
    return 0 if outcome != "no administrator yet" else 3


if __name__ == "__main__":
    raise SystemExit(main())
