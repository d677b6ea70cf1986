"""Numbered SQL migrations (`db/migrations/NNNN_name.sql`).

Applied under a PostgreSQL advisory lock, so concurrent starters wait for each
other; one transaction per file; each applied file's SHA-256 is recorded, and a
file edited after it was applied stops the runner. A file whose first lines say
`-- requires-extension: NAME` runs only where that extension is available
(TimescaleDB in production); elsewhere it is skipped, not recorded, and so it
applies on the first run where the extension appears.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ticktide_common.logging import get_logger

__all__ = [
    "Migration",
    "MigrationError",
    "discover",
    "apply_migrations",
    "ensure_database",
    "default_migrations_dir",
]

log = get_logger(__name__)

_ADVISORY_LOCK_KEY = 0x7469636B74696465 & 0x7FFFFFFFFFFFFFFF  # "ticktide"
_FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_REQUIRES = re.compile(r"^--\s*requires-extension:\s*([a-z_]+)\s*$", re.MULTILINE)


class MigrationError(RuntimeError):
    """A migration file is missing, malformed or was changed after it ran."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str
    requires_extension: str | None


def default_migrations_dir() -> Path:
    """`db/migrations` of the repository (or `TICKTIDE_MIGRATIONS_DIR`)."""
    import os

    if env := os.environ.get("TICKTIDE_MIGRATIONS_DIR"):
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "db" / "migrations"
        if candidate.is_dir():
            return candidate
    raise MigrationError("db/migrations not found; set TICKTIDE_MIGRATIONS_DIR")


def discover(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration names look like 0001_name.sql")
        sql = path.read_text(encoding="utf-8")
        head = "\n".join(sql.splitlines()[:5])
        requires = _REQUIRES.search(head)
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                sql=sql,
                checksum=hashlib.sha256(sql.encode()).hexdigest(),
                requires_extension=requires.group(1) if requires else None,
            )
        )
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return migrations


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it does not exist; True if created."""
    try:
        connection = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await connection.close()
        return False
    base, _, rest = dsn.rpartition("/")
    name, _, query = rest.partition("?")
    maintenance = f"{base}/postgres" + (f"?{query}" if query else "")
    connection = await asyncpg.connect(maintenance)
    try:
        quoted = await connection.fetchval("SELECT quote_ident($1)", name)
        await connection.execute(f"CREATE DATABASE {quoted}")
    except asyncpg.DuplicateDatabaseError:
        return False
    finally:
        await connection.close()
    log.info("database.created", database=name)
    return True


async def apply_migrations(dsn: str, directory: Path | None = None) -> list[str]:
    """Apply what is pending; returns the names applied in this call."""
    migrations = discover(directory or default_migrations_dir())
    connection = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
        try:
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                r["version"]: r
                for r in await connection.fetch(
                    "SELECT version, name, checksum FROM schema_migrations"
                )
            }
            available = {
                r["name"]
                for r in await connection.fetch("SELECT name FROM pg_available_extensions")
            }
            for migration in migrations:
                previous = done.get(migration.version)
                if previous is not None:
                    if previous["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"{migration.version:04d}_{migration.name}.sql changed after it was "
                            "applied; add a new migration instead of editing this one"
                        )
                    continue
                if migration.requires_extension and migration.requires_extension not in available:
                    log.info(
                        "migration.skipped",
                        version=migration.version,
                        name=migration.name,
                        missing_extension=migration.requires_extension,
                    )
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(f"{migration.version:04d}_{migration.name}")
                log.info("migration.applied", version=migration.version, name=migration.name)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    finally:
        await connection.close()
    return applied_now
