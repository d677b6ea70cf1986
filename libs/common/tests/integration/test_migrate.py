"""The migration runner against a real PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from ticktide_common.migrate import MigrationError, MigrationFailed, apply_migrations
from ticktide_common.testing.fixtures import ADMIN_DSN, _replace_database


@pytest.fixture
async def scratch_dsn():
    name = f"ticktide_scratch_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield _replace_database(ADMIN_DSN, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_concurrent_runs_apply_each_file_once(scratch_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE b (id int);")
    (tmp_path / "0003_ts.sql").write_text(
        "-- requires-extension: no_such_extension\nCREATE TABLE c (id int);"
    )
    results = await asyncio.gather(*(apply_migrations(scratch_dsn, tmp_path) for _ in range(3)))
    assert sorted(sum(results, [])) == ["0001_first", "0002_second"]
    assert await apply_migrations(scratch_dsn, tmp_path) == []


async def test_failed_file_rolls_back_and_edit_is_refused(scratch_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE b (id int); SELECT nonsense();")
    with pytest.raises(MigrationFailed, match=r"^0002_broken\.sql: function nonsense\(\) does not"):
        await apply_migrations(scratch_dsn, tmp_path)
    connection = await asyncpg.connect(scratch_dsn)
    try:
        assert await connection.fetchval("SELECT to_regclass('b')") is None
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await connection.close()
    (tmp_path / "0002_broken.sql").unlink()
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(scratch_dsn, tmp_path)


async def test_a_migration_that_loses_a_deadlock_is_run_again(
    scratch_dsn: str, tmp_path: Path
) -> None:
    """Another session (a TimescaleDB job, in life) holds `b` and then wants `a`,
    which the migration holds while it wants `b`: PostgreSQL ends the migration's
    transaction (its deadlock_timeout is the shorter), and the runner applies the
    file again once the other session is done."""
    setup = await asyncpg.connect(scratch_dsn)
    await setup.execute("CREATE TABLE a (id int); CREATE TABLE b (id int)")
    await setup.close()
    (tmp_path / "0001_both.sql").write_text(
        "LOCK TABLE a IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.3);"
        " LOCK TABLE b IN ACCESS EXCLUSIVE MODE; CREATE TABLE done (id int);"
    )
    other = await asyncpg.connect(scratch_dsn)
    try:
        await other.execute("SET deadlock_timeout = '30s'")  # never the one to give up
        transaction = other.transaction()
        await transaction.start()
        await other.execute("LOCK TABLE b IN ACCESS EXCLUSIVE MODE")
        migrating = asyncio.create_task(apply_migrations(scratch_dsn, tmp_path))
        await asyncio.sleep(0.15)  # the migration holds a, and soon waits for b
        await other.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")  # granted once it lost
        await transaction.commit()
        assert await asyncio.wait_for(migrating, 30) == ["0001_both"]
    finally:
        await other.close()
    check = await asyncpg.connect(scratch_dsn)
    try:
        assert await check.fetchval("SELECT to_regclass('done')::text") == "done"
    finally:
        await check.close()


async def test_project_migrations_apply(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        tables = {
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    finally:
        await connection.close()
    assert {
        "cryptocurrencies",
        "crypto_prices",
        "performance_metrics",
        "ingest_jobs",
        "ingest_batches",
        "crypto_gaps",
    } <= tables
