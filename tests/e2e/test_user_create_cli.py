"""`ticktide user create` as an operator runs it on the host: the password from
standard input (never argv), the same policy as the API, and a created admin
who can then log in to the real auth service and use the admin API."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.testing.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"


async def ticktide(env: dict[str, str], stdin: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    # Rich wraps long lines at the terminal width; compare words, not line breaks.
    return int(process.returncode or 0), " ".join(output.decode().split())


@pytest.fixture
async def auth_service(
    service_env: dict[str, str], log_dir: Path, bus: Bus
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    service = ServiceProcess(
        "ticktide_auth", {**service_env, "AUTH_PORT": str(port)}, port, log_dir
    )
    await service.start()
    yield service
    service.stop()


async def test_create_admin_from_stdin_then_log_in(
    service_env: dict[str, str], auth_service: ServiceProcess, db_pool: asyncpg.Pool
) -> None:
    name = f"root{uuid.uuid4().hex[:8]}"
    password = "correct horse battery staple"
    code, output = await ticktide(
        service_env,
        password + "\n",
        "user",
        "create",
        "--admin",
        name,
        "--email",
        f"{name}@example.com",
    )
    assert code == 0, output
    assert f"created admin '{name}'" in output and password not in output
    stored = await db_pool.fetchrow(
        "SELECT user_level, password_hash, email FROM users WHERE username = $1", name
    )
    assert stored is not None
    assert stored["user_level"] == "admin" and stored["password_hash"].startswith("$argon2id$")
    event = await db_pool.fetchval(
        "SELECT details->>'via' FROM security_events WHERE event_type = 'user_created' "
        "AND details->>'username' = $1",
        name,
    )
    assert event == "cli"

    async with httpx.AsyncClient(base_url=auth_service.url, timeout=10) as http:
        headers = {"X-Forwarded-For": "192.0.2.50"}
        login = await http.post(
            "/api/auth/login", json={"username": name, "password": password}, headers=headers
        )
        assert login.status_code == 200 and login.json()["role"] == "admin"
        token = login.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
        # Searched: the run's database holds every test's users, more than one page.
        users = await http.get(
            "/api/admin/users", params={"search": name}, headers={"Cookie": f"{COOKIE}={token}"}
        )
        assert users.status_code == 200 and name in [u["username"] for u in users.json()]


async def test_default_email_and_a_plain_user(
    service_env: dict[str, str], db_pool: asyncpg.Pool
) -> None:
    name = f"Plain{uuid.uuid4().hex[:8]}"
    code, output = await ticktide(service_env, "a fine password\r\n", "user", "create", name)
    assert code == 0, output
    row = await db_pool.fetchrow("SELECT user_level, email FROM users WHERE username = $1", name)
    assert row is not None
    assert (row["user_level"], row["email"]) == ("user", f"{name.lower()}@localhost")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "create", "--admin", "{name}"], "short\n", "at least 8 characters"),
        (["user", "create", "{name}"], "p" * 129 + "\n", "at most 128 characters"),
        (["user", "create", "{name}"], "", "at least 8 characters"),
        (["user", "create", "bad name!"], "long enough pw\n", "username must be"),
        (["user", "create", "{name}", "--email", "not-an-email"], "long enough pw\n", "email"),
    ],
)
async def test_refusals_exit_1_and_store_nothing(
    service_env: dict[str, str],
    db_pool: asyncpg.Pool,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    name = f"refused{uuid.uuid4().hex[:8]}"
    before = await db_pool.fetchval("SELECT count(*) FROM users")
    code, output = await ticktide(service_env, stdin, *(a.format(name=name) for a in args))
    assert code == 1, output
    assert message in output and "Traceback" not in output
    assert await db_pool.fetchval("SELECT count(*) FROM users") == before


async def test_duplicate_username_in_any_case_is_refused(
    service_env: dict[str, str], db_pool: asyncpg.Pool
) -> None:
    name = f"dup{uuid.uuid4().hex[:8]}"
    assert (await ticktide(service_env, "first password\n", "user", "create", name))[0] == 0
    code, output = await ticktide(service_env, "second password\n", "user", "create", name.upper())
    assert code == 1 and "already exists" in output, output
    count = await db_pool.fetchval(
        "SELECT count(*) FROM users WHERE lower(username) = lower($1)", name
    )
    assert count == 1
