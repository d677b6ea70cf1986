"""Numbered SQL migrations (`db/migrations/NNNN_name.sql`).

Applied under a PostgreSQL advisory lock, so concurrent starters wait for each
other; each file runs in one transaction together with its bookkeeping row, so a
file that fails leaves the database as it was and raises `MigrationFailed` (one
line: the file and the server's message). Each applied file's SHA-256 is recorded,
and a file edited after it was applied stops the runner. A file whose first lines
say `-- requires-extension: NAME` runs only where that extension is usable (see
`extension_state`: TimescaleDB must also be preloaded); elsewhere it is skipped,
not recorded, and so it applies on the first run where the extension becomes
usable. An extension installed but not preloaded gives one warning in the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ticktide_common.extension_state import (
    ExtensionState,
    classify_extension,
    not_preloaded_warning,
    preloaded_libraries,
)
from ticktide_common.logging import get_logger

__all__ = [
    "Migration",
    "MigrationError",
    "MigrationFailed",
    "MigrationRun",
    "run_migrations",
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


class MigrationFailed(MigrationError):
    """A migration's SQL failed (its transaction rolled back); the message is one line."""


@dataclass(frozen=True)
class MigrationRun:
    """What one run did: the files applied, and warnings for the operator (one line each)."""

    applied: list[str]
    warnings: list[str]


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
    """Apply what is pending; returns the names applied in this call (warnings are logged)."""
    run = await run_migrations(dsn, directory)
    for warning in run.warnings:
        log.warning("migration.extension_not_preloaded", message=warning)
    return run.applied


async def _extension_states(
    connection: asyncpg.Connection, names: set[str]
) -> dict[str, ExtensionState]:
    available = {
        r["name"] for r in await connection.fetch("SELECT name FROM pg_available_extensions")
    }
    created = {r["extname"] for r in await connection.fetch("SELECT extname FROM pg_extension")}
    preloaded = await _preloaded(connection)
    return {
        name: classify_extension(
            name, available=name in available, created=name in created, preloaded=preloaded
        )
        for name in names
    }


async def _preloaded(connection: asyncpg.Connection) -> frozenset[str]:
    try:
        setting = await connection.fetchval("SELECT current_setting('shared_preload_libraries')")
    except asyncpg.InsufficientPrivilegeError:
        # Only superusers and pg_read_all_settings may read it; a loaded TimescaleDB
        # loader shows itself by the settings it defines.
        loader = await connection.fetchval(
            "SELECT 1 FROM pg_settings WHERE name = 'timescaledb.disable_load'"
        )
        log.info("migration.preload_setting_unreadable", timescaledb_loader=bool(loader))
        return frozenset({"timescaledb"}) if loader else frozenset()
    return preloaded_libraries(setting or "")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


async def _apply_one(connection: asyncpg.Connection, migration: Migration, file: str) -> None:
    """The file and its bookkeeping row in one transaction; on failure, rolled back
    (or gone with the connection the server ended) and raised as one line. Not
    `async with transaction()`: its exit on a dropped connection would hide the
    server's message behind "the underlying connection is closed"."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(migration.sql)
        await connection.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )
        await transaction.commit()
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        if not connection.is_closed() and connection.is_in_transaction():
            await transaction.rollback()
        # Raised, not logged: the caller prints or logs it once.
        raise MigrationFailed(f"{file}: {_one_line(error)}") from error


# A migration that loses a deadlock (e.g. 0014's ALTER of a continuous aggregate
# against the refresh job an earlier migration scheduled, which TimescaleDB's
# background worker starts at once) was rolled back whole: it is run again, up to
# this many times, after a short pause.
_RETRIED_ERRORS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
_ATTEMPTS = 5


async def _apply_retrying(connection: asyncpg.Connection, migration: Migration, file: str) -> None:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            await _apply_one(connection, migration, file)
            return
        except MigrationFailed as failed:
            retried = isinstance(failed.__cause__, _RETRIED_ERRORS) and not connection.is_closed()
            if not retried or attempt == _ATTEMPTS:
                raise
            log.warning(
                "migration.retried", version=migration.version, name=migration.name,
                attempt=attempt, error=str(failed),
            )  # fmt: skip
            await asyncio.sleep(0.2 * attempt)


async def run_migrations(dsn: str, directory: Path | None = None) -> MigrationRun:
    """Apply what is pending; the files applied and the warnings of this run."""
    migrations = discover(directory or default_migrations_dir())
    connection = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    waiting: dict[str, list[str]] = {}  # extension not preloaded -> files waiting for it
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
            states = await _extension_states(
                connection, {m.requires_extension for m in migrations if m.requires_extension}
            )
            for migration in migrations:
                file = f"{migration.version:04d}_{migration.name}.sql"
                previous = done.get(migration.version)
                if previous is not None:
                    if previous["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"{file} changed after it was "
                            "applied; add a new migration instead of editing this one"
                        )
                    continue
                required = migration.requires_extension
                if required and states[required] is not ExtensionState.USABLE:
                    if states[required] is ExtensionState.NOT_PRELOADED:
                        waiting.setdefault(required, []).append(file)
                    log.info(
                        "migration.skipped",
                        version=migration.version,
                        name=migration.name,
                        extension=required,
                        extension_state=states[required].value,
                    )
                    continue
                await _apply_retrying(connection, migration, file)
                applied_now.append(f"{migration.version:04d}_{migration.name}")
                log.info("migration.applied", version=migration.version, name=migration.name)
        finally:
            # A connection the server ended holds no lock any more.
            if not connection.is_closed():
                await connection.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    finally:
        await connection.close()
    warnings = [not_preloaded_warning(name, files) for name, files in sorted(waiting.items())]
    return MigrationRun(applied=applied_now, warnings=warnings)
