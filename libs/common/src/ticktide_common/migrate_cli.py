"""`python -m ticktide_common.migrate_cli`: create the database of DATABASE_URL when it
does not exist yet (through the `postgres` database of the same server), apply the
pending migrations and print what was applied, and each warning of the run once on
stderr (TimescaleDB installed but not preloaded: the line for postgresql.conf). A
failure is one line on stderr (the file and the server's message) and exit 1, never a
traceback. Used by `make up` (scripts/migrate.sh) and by compose's `migrate` service."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import unquote, urlsplit

import asyncpg

from ticktide_common.logging import configure_logging
from ticktide_common.migrate import MigrationError, MigrationRun, ensure_database, run_migrations
from ticktide_common.settings import DatabaseSettings

__all__ = ["database_name", "main"]


def database_name(dsn: str) -> str:
    """The database a DSN names (PostgreSQL's default is the user name)."""
    parts = urlsplit(dsn)
    return unquote(parts.path.lstrip("/")) or unquote(parts.username or "postgres")


async def _migrate(dsn: str) -> MigrationRun:
    if await ensure_database(dsn):
        print(f"created database {database_name(dsn)}")
    return await run_migrations(dsn)


def main() -> int:
    configure_logging("migrate", "WARNING")
    dsn = DatabaseSettings().database_url
    try:
        run = asyncio.run(_migrate(dsn))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, MigrationError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"migrate: database {database_name(dsn)}: {message}", file=sys.stderr)
        return 1
    for warning in run.warnings:
        print(f"migrate: {warning}", file=sys.stderr)
    for name in run.applied:
        print(f"applied {name}")
    if not run.applied:
        print(f"database {database_name(dsn)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
