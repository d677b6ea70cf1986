"""`python -m ticktide_common.migrate_cli`: create the database of DATABASE_URL when it
does not exist yet (through the `postgres` database of the same server), apply the
pending migrations and print what was applied; a clear one-line error otherwise.
Used by `make up` (scripts/up.sh) and by compose's `migrate` service."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import unquote, urlsplit

import asyncpg

from ticktide_common.logging import configure_logging
from ticktide_common.migrate import MigrationError, apply_migrations, ensure_database
from ticktide_common.settings import Settings

__all__ = ["database_name", "main"]


def database_name(dsn: str) -> str:
    """The database a DSN names (PostgreSQL's default is the user name)."""
    parts = urlsplit(dsn)
    return unquote(parts.path.lstrip("/")) or unquote(parts.username or "postgres")


async def _migrate(dsn: str) -> list[str]:
    if await ensure_database(dsn):
        print(f"created database {database_name(dsn)}")
    return await apply_migrations(dsn)


def main() -> int:
    configure_logging("migrate", "WARNING")
    dsn = Settings().database_url
    try:
        applied = asyncio.run(_migrate(dsn))
    except (OSError, asyncpg.PostgresError, MigrationError) as error:
        print(f"migrate: database {database_name(dsn)}: {error}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print(f"database {database_name(dsn)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
