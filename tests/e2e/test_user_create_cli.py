"""`ticktide user create`. On the stack's host while no admin exists, the
bootstrap `--admin` makes the first admin straight in the database (the
password from standard input, never argv; the same policy and hashing as the
API) and writes the operator token; that admin can log in to the real auth
service. Once an admin exists, users are made through the API by an admin's
token, with the policy's refusals and a duplicate refused."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers
from ticktide_common.migrate import apply_migrations
from ticktide_common.sessions import hash_secret
from ticktide_common.testing.fixtures import ADMIN_DSN
from ticktide_common.testing.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"
PASSWORD = "correct horse battery staple"


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
async def empty_database(run_id: str) -> AsyncIterator[str]:
    """A migrated database of its own, with no admin in it (the run's has many)."""
    name = f"ticktide_test_{run_id}_boot{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = f"{ADMIN_DSN.rpartition('/')[0]}/{name}"
    await apply_migrations(dsn)
    yield dsn
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def host_env(
    service_env: dict[str, str], empty_database: str, tmp_path: Path
) -> dict[str, str]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return {**service_env, "DATABASE_URL": empty_database, "TICKTIDE_RUN_DIR": str(run_dir)}


@pytest.fixture
async def auth_service(host_env: dict[str, str], log_dir: Path) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    service = ServiceProcess("ticktide_auth", {**host_env, "AUTH_PORT": str(port)}, port, log_dir)
    await service.start()
    yield service
    service.stop()


async def test_bootstrap_admin_from_stdin_then_log_in(
    host_env: dict[str, str], auth_service: ServiceProcess, empty_database: str
) -> None:
    name = f"root{uuid.uuid4().hex[:8]}"
    code, output = await ticktide(
        host_env,
        PASSWORD + "\n",
        "user",
        "create",
        "--admin",
        name,
        "--email",
        f"{name}@example.com",
    )
    assert code == 0, output
    assert f"created admin '{name}'" in output and PASSWORD not in output
    pool = await asyncpg.create_pool(empty_database, min_size=1, max_size=1)
    assert pool is not None
    try:
        stored = await pool.fetchrow(
            "SELECT id, user_level, password_hash FROM users WHERE username = $1", name
        )
        assert stored is not None
        assert stored["user_level"] == "admin" and stored["password_hash"].startswith("$argon2id$")
        event = await pool.fetchval(
            "SELECT details->>'via' FROM security_events WHERE event_type = 'user_created' "
            "AND details->>'username' = $1",
            name,
        )
        assert event == "cli"

        # The operator token: the admin's, private, live.
        token_file = Path(host_env["TICKTIDE_RUN_DIR"]) / "operator-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        owner = await pool.fetchval(
            "SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
            "AND expires_at > now() + interval '300 days'",
            hash_secret(token),
        )
        assert owner == stored["id"]

        # `make up` keeps a live one and replaces an invalid one.
        code, output = await _bootstrap(host_env)
        assert code == 0 and "kept" in output, output
        await pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", owner)
        code, output = await _bootstrap(host_env)
        assert code == 0 and f"created for {name}" in output, output
        assert token_file.read_text().strip() != token
    finally:
        await pool.close()

    # A second bootstrap is refused: an admin exists.
    token_file.unlink()
    code, output = await ticktide(host_env, PASSWORD + "\n", "user", "create", "--admin", "other")
    assert code == 1 and "an administrator exists already" in output, output

    async with httpx.AsyncClient(base_url=auth_service.url, timeout=10) as http:
        headers = {"X-Forwarded-For": "192.0.2.50"}
        login = await http.post(
            "/api/auth/login", json={"username": name, "password": PASSWORD}, headers=headers
        )
        assert login.status_code == 200 and login.json()["role"] == "admin"


async def _bootstrap(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ticktide_cli.bootstrap",
        "operator-token",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), output.decode()


@pytest.fixture
async def api_env(crypto_stack: CryptoStack, db_pool: asyncpg.Pool) -> dict[str, str]:
    token = (await admin_headers(db_pool))["Authorization"].removeprefix("Bearer ")
    return {**crypto_stack.env, "TICKTIDE_URL": crypto_stack.api, "TICKTIDE_TOKEN": token}


async def test_an_admin_creates_users_through_the_api(
    api_env: dict[str, str], db_pool: asyncpg.Pool
) -> None:
    name = f"Plain{uuid.uuid4().hex[:8]}"
    code, output = await ticktide(
        api_env, "a fine password\r\n", "user", "create", name, "--email", f"{name}@example.com"
    )
    assert code == 0, output
    assert f"created user '{name}'" in output
    row = await db_pool.fetchrow("SELECT user_level, email FROM users WHERE username = $1", name)
    assert row is not None
    assert (row["user_level"], row["email"].lower()) == ("user", f"{name.lower()}@example.com")

    other = f"boss{uuid.uuid4().hex[:8]}"
    code, output = await ticktide(
        api_env, PASSWORD + "\n", "user", "create", "--admin", other, "--email", f"{other}@x.org"
    )
    assert code == 0 and f"created admin '{other}'" in output, output

    code, output = await ticktide(
        api_env, "second password\n", "user", "create", name.upper(), "--email", "b@example.com"
    )
    assert code == 1 and "already" in output, output
    count = await db_pool.fetchval(
        "SELECT count(*) FROM users WHERE lower(username) = lower($1)", name
    )
    assert count == 1


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
    """Refused before any request: the token is never used."""
    env = {**service_env, "TICKTIDE_URL": "http://127.0.0.1:9", "TICKTIDE_TOKEN": "ttk_unused"}
    name = f"refused{uuid.uuid4().hex[:8]}"
    before = await db_pool.fetchval("SELECT count(*) FROM users")
    code, output = await ticktide(env, stdin, *(a.format(name=name) for a in args))
    assert code == 1, output
    assert message in output and "Traceback" not in output
    assert await db_pool.fetchval("SELECT count(*) FROM users") == before
