"""The migration runner on the three kinds of server (issue 11), each asked what it
is rather than assumed: TimescaleDB usable (the private preloaded cluster), installed
but not preloaded (the private half-installed cluster: `make up`'s migrate step and
`ticktide migrate` exit 0 on the plain path and warn once), absent (the machine's own
PostgreSQL, where it has no extension files). A failing migration exits non-zero with
one line and leaves the database as it was, also when the server ends the connection."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from ticktide_common.migrate import (
    MigrationFailed,
    default_migrations_dir,
    discover,
    run_migrations,
)
from ticktide_common.testing.fixtures import _replace_database

REPO = default_migrations_dir().parents[1]
PLAIN_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PRELOAD_LINE = "shared_preload_libraries = 'timescaledb'"
Scratch = Callable[[str], Awaitable[str]]


async def timescaledb_cluster(mode: str) -> str:
    """The admin DSN of a private TimescaleDB cluster (started if needed); skips the
    test where TimescaleDB cannot be had (ensure-timescaledb.sh exits 3)."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(REPO / "scripts" / "ensure-timescaledb.sh"),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode == 3:
        pytest.skip(err.decode().strip())
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


@pytest.fixture
async def scratch() -> AsyncIterator[Scratch]:
    """`await scratch(admin_dsn)` -> the DSN of a new empty database there, dropped after."""
    made: list[tuple[str, str]] = []

    async def make(admin_dsn: str) -> str:
        name = f"ticktide_states_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        made.append((admin_dsn, name))
        return _replace_database(admin_dsn, name)

    yield make
    for admin_dsn, name in made:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def run(*command: str, dsn: str, tmp_path: Path, **env: str) -> tuple[int, str, str]:
    """Run `command` in the repository with DATABASE_URL=dsn; (code, stdout, stderr)."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": dsn, "TICKTIDE_ENV_FILE": str(env_file), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def server_facts(dsn: str) -> tuple[bool, bool, bool]:
    """(timescaledb listed as available, preloaded, created in this database)."""
    connection = await asyncpg.connect(dsn)
    try:
        available = await connection.fetchval(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        preloaded = "timescaledb" in await connection.fetchval("SHOW shared_preload_libraries")
        created = await connection.fetchval(
            "SELECT count(*) > 0 FROM pg_extension WHERE extname = 'timescaledb'"
        )
    finally:
        await connection.close()
    return available, preloaded, created


async def applied_versions(dsn: str) -> set[int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            r["version"] for r in await connection.fetch("SELECT version FROM schema_migrations")
        }
    finally:
        await connection.close()


def versions(requires: str | None) -> set[int]:
    return {
        m.version for m in discover(default_migrations_dir()) if m.requires_extension == requires
    }


async def test_not_preloaded_takes_the_plain_path_and_warns_once(
    scratch: Scratch, tmp_path: Path
) -> None:
    admin = await timescaledb_cluster("not-preloaded")
    dsn = await scratch(admin)
    assert await server_facts(dsn) == (True, False, False)  # installed, not preloaded

    code, out, err = await run("bash", "scripts/migrate.sh", dsn=dsn, tmp_path=tmp_path)
    assert code == 0, out + err
    assert (out + err).count(PRELOAD_LINE) == 1, out + err
    assert "Traceback" not in out + err
    applied = await applied_versions(dsn)
    assert versions(None) <= applied
    assert not versions("timescaledb") & applied
    assert await server_facts(dsn) == (True, False, False)

    # `ticktide migrate` on the same server: up to date, exit 0, the warning again once.
    code, out, err = await run(
        str(REPO / ".venv" / "bin" / "ticktide"), "migrate", dsn=dsn, tmp_path=tmp_path
    )
    assert code == 0, out + err
    assert "up to date" in out
    assert (out + err).count(PRELOAD_LINE) == 1, out + err


async def test_ticktide_migrate_on_a_new_not_preloaded_database_exits_0(
    scratch: Scratch, tmp_path: Path
) -> None:
    admin = await timescaledb_cluster("not-preloaded")
    dsn = _replace_database(admin, f"ticktide_states_{uuid.uuid4().hex[:10]}")
    try:
        code, out, err = await run(
            str(REPO / ".venv" / "bin" / "ticktide"), "migrate", dsn=dsn, tmp_path=tmp_path
        )
        assert code == 0, out + err
        assert err.count(PRELOAD_LINE) == 1, err
        assert versions(None) <= await applied_versions(dsn)
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(
                f'DROP DATABASE IF EXISTS "{dsn.rpartition("/")[2]}" WITH (FORCE)'
            )
        finally:
            await connection.close()


async def test_preloaded_applies_the_timescale_migrations(
    scratch: Scratch,
) -> None:
    admin = await timescaledb_cluster("preloaded")
    dsn = await scratch(admin)
    available, preloaded, _ = await server_facts(dsn)
    assert available and preloaded

    result = await run_migrations(dsn)
    assert result.warnings == []
    assert versions("timescaledb") | versions(None) <= await applied_versions(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        hypertables = {
            r["hypertable_name"]
            for r in await connection.fetch(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            )
        }
    finally:
        await connection.close()
    assert {"crypto_prices", "stock_prices", "weather_historic"} <= hypertables
    assert (await run_migrations(dsn)).applied == []


async def test_machine_postgresql_warns_only_if_not_preloaded(
    scratch: Scratch,
) -> None:
    """The machine's own cluster: whatever it is, the runner's answer matches it."""
    dsn = await scratch(PLAIN_ADMIN_DSN)
    available, preloaded, _ = await server_facts(dsn)
    result = await run_migrations(dsn)
    applied = {int(name[:4]) for name in result.applied}
    if not available:  # absent: the plain path, no warning
        assert result.warnings == []
        assert not versions("timescaledb") & applied
    elif not preloaded:
        assert len(result.warnings) == 1 and PRELOAD_LINE in result.warnings[0]
    else:
        assert result.warnings == [] and versions("timescaledb") <= applied
    assert versions(None) <= applied


async def test_failing_migration_is_one_line_and_changes_nothing(
    scratch: Scratch, tmp_path: Path
) -> None:
    dsn = await scratch(PLAIN_ADMIN_DSN)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_first.sql").write_text("CREATE TABLE first_table (id int);")
    (migrations / "0002_broken.sql").write_text(
        "CREATE TABLE partial_table (id int);\nSELECT no_such_function();\n"
    )
    for command in (("bash", "scripts/migrate.sh"), (str(REPO / ".venv/bin/ticktide"), "migrate")):
        code, out, err = await run(
            *command, dsn=dsn, tmp_path=tmp_path, TICKTIDE_MIGRATIONS_DIR=str(migrations)
        )
        assert code != 0, out + err
        assert "Traceback" not in out + err
        lines = [line for line in (out + err).splitlines() if "0002_broken.sql" in line]
        assert len(lines) == 1 and "no_such_function" in lines[0], out + err
        connection = await asyncpg.connect(dsn)
        try:
            assert await connection.fetchval("SELECT to_regclass('partial_table')") is None
            assert await connection.fetchval("SELECT to_regclass('first_table')") is not None
            assert await applied_versions(dsn) == {1}
        finally:
            await connection.close()


async def test_migration_that_ends_the_connection_fails_cleanly(
    scratch: Scratch, tmp_path: Path
) -> None:
    """On the half-installed server a CREATE EXTENSION without the marker is FATAL: the
    connection drops; the runner still answers with the file and the message."""
    admin = await timescaledb_cluster("not-preloaded")
    dsn = await scratch(admin)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_first.sql").write_text("CREATE TABLE first_table (id int);")
    (migrations / "0002_unmarked.sql").write_text(
        "CREATE TABLE partial_table (id int);\nCREATE EXTENSION timescaledb;\n"
    )
    with pytest.raises(MigrationFailed, match=r"^0002_unmarked\.sql: .*preloaded"):
        await run_migrations(dsn, migrations)
    code, out, err = await run(
        "bash",
        "scripts/migrate.sh",
        dsn=dsn,
        tmp_path=tmp_path,
        TICKTIDE_MIGRATIONS_DIR=str(migrations),
    )
    assert code != 0 and "Traceback" not in out + err
    assert len([line for line in err.splitlines() if "0002_unmarked.sql" in line]) == 1, err
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SELECT to_regclass('partial_table')") is None
        assert await applied_versions(dsn) == {1}
    finally:
        await connection.close()


async def test_ensure_timescaledb_exits_3_where_it_cannot_be_had(tmp_path: Path) -> None:
    """What make test's TimescaleDB leg is skipped on (a machine without the build)."""
    code, out, err = await run(
        "bash",
        "scripts/ensure-timescaledb.sh",
        dsn="",
        tmp_path=tmp_path,
        TIMESCALEDB_BUILD_DIR=str(tmp_path / "no-build"),
    )
    assert code == 3, out + err
    assert out == "" and "timescaledb unavailable" in err
