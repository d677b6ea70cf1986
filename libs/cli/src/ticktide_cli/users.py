"""`ticktide user create`: an administrator creates users through the API
(`POST /api/admin/users`); only the very first administrator is made straight
in PostgreSQL (bootstrap.py). The password comes from a prompt (asked twice)
or, when stdin is not a terminal, from its first line — never from the command
line, where it would land in shell history and `ps`."""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from ticktide_cli.context import CliContext
from ticktide_cli.errors import CliError
from ticktide_cli.settings import CliSettings
from ticktide_common.accounts.policy import (
    PolicyError,
    check_password,
    check_username,
    normalise_email,
)

__all__ = ["read_password", "read_new_password", "create_user_via_api", "check_identity"]


def check_identity(username: str, email: str | None) -> None:
    """Refuse a bad username or email before asking for a password."""
    try:
        check_username(username)
        if email is not None:
            normalise_email(email)
    except PolicyError as exc:
        raise CliError(str(exc)) from None


def read_password(stdin: TextIO | None = None, *, confirm: bool = False) -> str:
    """A password from the terminal (twice with `confirm`) or stdin's first line."""
    stream = stdin or sys.stdin
    if stream.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password (again): ") != password:
            raise CliError("the two passwords differ")
        return password
    line = stream.readline()
    password = line[:-1] if line.endswith("\n") else line
    return password[:-1] if password.endswith("\r") else password


def read_new_password(settings: CliSettings, stdin: TextIO | None = None) -> str:
    password = read_password(stdin, confirm=True)
    try:
        return check_password(
            password,
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            min_score=settings.password_min_score,
        )
    except PolicyError as exc:
        raise CliError(str(exc)) from None


async def create_user_via_api(
    ctx: CliContext, *, username: str, email: str | None, password: str, role: str
) -> dict[str, Any]:
    if email is None:
        raise CliError("--email is needed to create a user through the API")
    user: dict[str, Any] = await ctx.api.post(
        "/api/admin/users",
        {"username": username, "email": email, "password": password, "role": role},
    )
    return user
