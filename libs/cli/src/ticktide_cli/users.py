"""`ticktide user create`: make a user (the first admin, typically) straight in
PostgreSQL, through the auth service's own code path, so the same policy,
hashing and security-event logging apply. The password comes from a prompt
(asked twice) or, when stdin is not a terminal, from its first line — never
from the command line, where it would land in shell history and `ps`."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

import asyncpg

from ticktide_auth.accounts import DuplicateUser, PasswordLimits, create_user
from ticktide_auth.passwords import PasswordHasher
from ticktide_auth.policy import PolicyError, check_password, check_username, normalise_email
from ticktide_auth.repository import AuthRepository, UserRow
from ticktide_cli.context import CliError
from ticktide_common.db import wait_for_database
from ticktide_common.principal import Role
from ticktide_common.settings import Settings

__all__ = ["read_new_password", "create_user_from_cli", "check_identity"]


def check_identity(username: str, email: str | None) -> None:
    """Refuse a bad username or email before asking for a password."""
    try:
        check_username(username)
        if email is not None:
            normalise_email(email)
    except PolicyError as exc:
        raise CliError(str(exc)) from None


def read_new_password(settings: Settings, stdin: TextIO | None = None) -> str:
    stream = stdin or sys.stdin
    if stream.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CliError("the two passwords differ")
    else:
        line = stream.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    try:
        return check_password(
            password,
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            min_score=settings.password_min_score,
        )
    except PolicyError as exc:
        raise CliError(str(exc)) from None


async def create_user_from_cli(
    settings: Settings, *, username: str, email: str | None, password: str, role: Role
) -> UserRow:
    try:
        await wait_for_database(settings.database_url, timeout=10)
        connection_pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=1, server_settings={"timezone": "UTC"}
        )
    except Exception as exc:
        raise CliError(f"cannot reach PostgreSQL at DATABASE_URL: {exc}") from exc
    assert connection_pool is not None
    try:
        return await create_user(
            AuthRepository(connection_pool),
            PasswordHasher(max_concurrent=1),
            PasswordLimits(
                settings.password_min_length,
                settings.password_max_length,
                settings.password_min_score,
            ),
            username=username,
            email=email,
            password=password,
            role=role,
            via="cli",
        )
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    except DuplicateUser:
        raise CliError(
            f"a user named '{username}' (in any case) or with that email already exists"
        ) from None
    except asyncpg.UndefinedTableError:
        raise CliError("the users table is missing; run `ticktide migrate` first") from None
    finally:
        await connection_pool.close()
