"""`make up` on a server with TimescaleDB installed but not preloaded (issue 11): it
takes the plain-PostgreSQL path, prints the warning with the postgresql.conf line once,
and the stack is healthy; `make down` stops it. A real `make up` on the private
half-installed cluster (scripts/ensure-timescaledb.sh not-preloaded), with a database
of its own there; the rest of the run's environment (bus, Redis) is the run's."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_make_up import make_up_env, run_make
from ticktide_common.bus import Bus
from ticktide_common.migrate import default_migrations_dir, discover
from ticktide_common.testing.fixtures import _replace_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PRELOAD_LINE = "shared_preload_libraries = 'timescaledb'"


async def not_preloaded_cluster(repo_root: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(repo_root / "scripts" / "ensure-timescaledb.sh"),
        "not-preloaded",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode == 3:
        pytest.skip(err.decode().strip())
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


async def test_make_up_on_a_not_preloaded_server_warns_and_serves(
    repo_root: Path, service_env: dict[str, str], tmp_path: Path, bus: Bus
) -> None:
    admin_dsn = await not_preloaded_cluster(repo_root)
    admin = await asyncpg.connect(admin_dsn)
    try:
        offered = await admin.fetchval(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        preload = await admin.fetchval("SHOW shared_preload_libraries")
    finally:
        await admin.close()
    assert offered and "timescaledb" not in preload  # the half-installed state, asked

    database = f"ticktide_half_{uuid.uuid4().hex[:10]}"  # make up creates it
    dsn = _replace_database(admin_dsn, database)
    ports, _, env = make_up_env({**service_env, "DATABASE_URL": dsn}, tmp_path)
    try:
        code, output = await run_make("up", env, repo_root)
        assert code == 0, output
        assert output.count(PRELOAD_LINE) == 1, output
        assert "Traceback" not in output
        async with httpx.AsyncClient(verify=False, timeout=10.0) as client:
            response = await client.get(
                f"https://localhost:{ports['TICKTIDE_HTTPS_PORT']}/api/health"
            )
            assert response.status_code == 200 and response.json()["status"] == "ok", response.text

        connection = await asyncpg.connect(dsn)
        try:
            applied = {
                r["version"]
                for r in await connection.fetch("SELECT version FROM schema_migrations")
            }
            extension = await connection.fetchval(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            )
        finally:
            await connection.close()
        migrations = discover(default_migrations_dir())
        assert {m.version for m in migrations if m.requires_extension is None} <= applied
        assert (
            not {m.version for m in migrations if m.requires_extension == "timescaledb"} & applied
        )
        assert extension == 0
    finally:
        code, output = await run_make("down", env, repo_root)
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
    assert code == 0, output
