"""`python -m ticktide_common.migrate_cli`: create the database of DATABASE_URL when it
does not exist yet (through the `postgres` database of the same server), then apply
the pending migrations and print what was applied. Used by `make up` and compose."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from ticktide_common.migrate import MigrationError, apply_migrations
from ticktide_common.settings import Settings

__all__ = ["database_name", "maintenance_dsn", "ensure_database", "main"]


def database_name(dsn: str) -> str:
    """The database a DSN names (PostgreSQL's default is the user name)."""
    parts = urlsplit(dsn)
    name = unquote(parts.path.lstrip("/"))
    return name or unquote(parts.username or "postgres")


def maintenance_dsn(dsn: str) -> str:
    """The same server and credentials, on the `postgres` database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


async def ensure_database(dsn: str) -> bool:
    """Create the database of `dsn` if it is missing; True when it was created."""
    name = database_name(dsn)
    admin = await asyncpg.connect(maintenance_dsn(dsn))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await admin.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False  # another starter created it at the same moment
        return True
    finally:
        await admin.close()


async def _run(dsn: str) -> list[str]:
    if await ensure_database(dsn):
        print(f"created database {database_name(dsn)}")
    return await apply_migrations(dsn)


def main() -> int:
    dsn = Settings().database_url
    try:
        applied = asyncio.run(_run(dsn))
    except (OSError, asyncpg.PostgresError, MigrationError) as error:
        print(f"migrate: {database_name(dsn)}: {error}", file=sys.stderr)
        return 1
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print(f"database {database_name(dsn)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
