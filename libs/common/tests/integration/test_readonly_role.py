"""The read-only role of migration 0019 (`ticktide_readonly`, pgAdmin's default
login, issue 15) on the run's migrated database: it reads every table, view and
continuous aggregate and sees what the owner sees; every write, DDL and nextval is
refused with a permission error; a table created later as the owner is readable
too (default privileges); and creating the cluster-wide role is safe when several
databases migrate at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.migrate import apply_migrations, default_migrations_dir
from ticktide_common.testing.fixtures import ADMIN_DSN, _replace_database

pytestmark = pytest.mark.integration

ROLE = "ticktide_readonly"
MIGRATION = default_migrations_dir() / "0019_readonly_role.sql"
# Far from any other test's candles, each in a chunk of its own on TimescaleDB.
RECENT = datetime(2031, 3, 1, tzinfo=UTC)
OLD = datetime(2003, 3, 1, tzinfo=UTC)


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def readonly(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url, user=ROLE)
    assert await connection.fetchval("SELECT current_user") == ROLE
    yield connection
    await connection.close()


async def _timescaledb(connection: asyncpg.Connection) -> bool:
    return bool(
        await connection.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    )


async def _insert_candles(owner: asyncpg.Connection, times: list[datetime]) -> None:
    await owner.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price,
               high_price, low_price, close_price, volume, source)
           VALUES (1, $1, '1h', 10, 12, 9, 11, 5, 'simulated')""",
        [(at,) for at in times],
    )


async def _delete_candles(owner: asyncpg.Connection, times: list[datetime]) -> None:
    await owner.execute(
        "DELETE FROM crypto_prices WHERE crypto_id = 1 AND datetime = ANY($1::timestamptz[])",
        times,
    )


async def test_the_role_is_a_plain_login_that_inherits_nothing(owner: asyncpg.Connection) -> None:
    role = await owner.fetchrow(
        """SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit,
                  rolreplication, rolbypassrls
           FROM pg_roles WHERE rolname = $1""",
        ROLE,
    )
    assert role is not None
    assert dict(role) == {
        "rolcanlogin": True,
        "rolsuper": False,
        "rolcreatedb": False,
        "rolcreaterole": False,
        "rolinherit": False,
        "rolreplication": False,
        "rolbypassrls": False,
    }


async def test_it_counts_the_candles_the_owner_inserted(
    owner: asyncpg.Connection, readonly: asyncpg.Connection
) -> None:
    times = [RECENT, RECENT + timedelta(hours=1)]
    before = await owner.fetchval("SELECT count(*) FROM crypto_prices")
    await _insert_candles(owner, times)
    try:
        seen = await readonly.fetchval("SELECT count(*) FROM crypto_prices")
        assert seen == await owner.fetchval("SELECT count(*) FROM crypto_prices") == before + 2
        rows = await readonly.fetch(
            "SELECT datetime FROM crypto_prices WHERE crypto_id = 1 AND datetime >= $1"
            " ORDER BY datetime",
            RECENT,
        )
        assert [r["datetime"] for r in rows] == times
    finally:
        await _delete_candles(owner, times)


async def test_it_reads_every_relation_in_public_and_may_do_nothing_else(
    owner: asyncpg.Connection, readonly: asyncpg.Connection
) -> None:
    relations = await owner.fetch(
        """SELECT c.relname, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           ORDER BY c.relname"""
    )
    names = {r["relname"] for r in relations}
    assert {"crypto_prices", "users", "backtests", "schema_migrations"} <= names
    for relation in relations:
        quoted = await owner.fetchval("SELECT quote_ident($1)", relation["relname"])
        # Each one read as the role: a missing grant is a permission error here.
        await readonly.fetch(f"SELECT * FROM {quoted} LIMIT 1")
        kind = "SEQUENCE" if relation["relkind"] == "S" else "TABLE"
        wrong = await owner.fetch(
            f"""SELECT p FROM unnest($2::text[]) AS p
                WHERE has_{kind.lower()}_privilege($1, $3::regclass, p)""",
            ROLE,
            ["USAGE", "UPDATE"]
            if kind == "SEQUENCE"
            else ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
            quoted,
        )
        assert [r["p"] for r in wrong] == [], relation["relname"]
    assert await owner.fetchval(
        "SELECT has_schema_privilege($1, 'public', 'CREATE')", ROLE
    ) is False  # fmt: skip


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM crypto_prices",
        "INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price,"
        " high_price, low_price, close_price, volume, source)"
        " VALUES (1, '2031-04-01', '1h', 1, 1, 1, 1, 1, 'simulated')",
        "UPDATE crypto_prices SET volume = 0",
        "TRUNCATE crypto_prices",
        "CREATE TABLE readonly_was_here (id int)",
        "UPDATE users SET user_level = 'admin'",
        "SELECT nextval('cryptocurrencies_id_seq')",
    ],
)
async def test_every_write_is_a_permission_error(
    owner: asyncpg.Connection, readonly: asyncpg.Connection, statement: str
) -> None:
    times = [RECENT + timedelta(days=2)]
    await _insert_candles(owner, times)
    try:
        before = await owner.fetchval("SELECT count(*) FROM crypto_prices")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await readonly.execute(statement)
        assert await owner.fetchval("SELECT count(*) FROM crypto_prices") == before
        assert await owner.fetchval("SELECT to_regclass('readonly_was_here')") is None
    finally:
        await _delete_candles(owner, times)


async def test_a_table_a_later_migration_creates_is_readable(
    owner: asyncpg.Connection, readonly: asyncpg.Connection
) -> None:
    table = f"later_{uuid.uuid4().hex[:10]}"
    await owner.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, note text NOT NULL)")
    try:
        await owner.execute(f"INSERT INTO {table} (note) VALUES ('one'), ('two')")
        await owner.execute(f"CREATE VIEW {table}_view AS SELECT note FROM {table}")
        assert await readonly.fetchval(f"SELECT count(*) FROM {table}") == 2
        assert await readonly.fetchval(f"SELECT string_agg(note, ',') FROM {table}_view") == (
            "one,two"
        )
        assert await readonly.fetchval(f"SELECT last_value FROM {table}_id_seq") == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await readonly.execute(f"DELETE FROM {table}")
    finally:
        await owner.execute(f"DROP TABLE {table} CASCADE")


async def test_on_timescaledb_compressed_chunks_and_aggregates_are_readable(
    owner: asyncpg.Connection, readonly: asyncpg.Connection
) -> None:
    if not await _timescaledb(owner):
        pytest.skip("TimescaleDB is not in this database (the plain PostgreSQL leg)")
    recent = [RECENT + timedelta(days=5, hours=h) for h in range(3)]
    old = [OLD, OLD + timedelta(hours=1)]
    await _insert_candles(owner, recent + old)
    chunk = await owner.fetchval(
        "SELECT tableoid::regclass::text FROM crypto_prices WHERE crypto_id = 1 AND datetime = $1",
        OLD,
    )
    await owner.execute("SELECT compress_chunk($1::regclass)", chunk)
    try:
        assert await owner.fetchval(
            "SELECT is_compressed FROM timescaledb_information.chunks"
            " WHERE format('%I.%I', chunk_schema, chunk_name)::regclass = $1::regclass",
            chunk,
        )
        # The compressed chunk is decompressed while it is read: as the role too.
        count = "SELECT count(*) FROM crypto_prices WHERE crypto_id = 1 AND datetime < $1"
        assert await readonly.fetchval(count, OLD + timedelta(days=1)) == 2
        assert await readonly.fetchval("SELECT count(*) FROM crypto_prices") == (
            await owner.fetchval("SELECT count(*) FROM crypto_prices")
        )
        # Real-time aggregates: the newest hours are aggregated from crypto_prices
        # at query time, as the view's owner.
        daily = (
            "SELECT candles, volume FROM crypto_prices_daily WHERE crypto_id = 1 AND bucket = $1"
        )
        day = RECENT + timedelta(days=5)
        seen = await readonly.fetchrow(daily, day)
        assert seen is not None and seen["candles"] == 3
        assert dict(seen) == dict(await owner.fetchrow(daily, day) or {})
        await readonly.fetch("SELECT * FROM weather_historic_daily LIMIT 1")
    finally:
        await owner.execute("SELECT decompress_chunk($1::regclass, if_compressed => true)", chunk)
        await _delete_candles(owner, recent + old)


@pytest.fixture
async def fresh_databases() -> AsyncIterator[list[str]]:
    names = [f"ticktide_readonly_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield [_replace_database(ADMIN_DSN, name) for name in names]
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_two_databases_migrated_at_once_both_grant_the_role(
    fresh_databases: list[str],
) -> None:
    results = await asyncio.gather(*(apply_migrations(dsn) for dsn in fresh_databases))
    for applied in results:
        assert "0019_readonly_role" in applied
    for dsn in fresh_databases:
        connection = await asyncpg.connect(dsn, user=ROLE)
        try:
            assert await connection.fetchval("SELECT count(*) FROM crypto_prices") == 0
            assert await connection.fetchval("SELECT count(*) FROM cryptocurrencies") > 0
        finally:
            await connection.close()


async def _waiting_for_a_lock(admin: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        if await admin.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} never waited for the other CREATE ROLE")


async def create_role_racing(fresh_databases: list[str], sql: str) -> None:
    """The migration's text in two databases' transactions: the first creates the
    role and holds its commit while the second, which found no role, waits on
    pg_authid's unique index; then the first commits. The second must still
    succeed (the race two test runs' migrations meet)."""
    first = await asyncpg.connect(fresh_databases[0])
    second = await asyncpg.connect(fresh_databases[1])
    try:
        first_transaction = first.transaction()
        await first_transaction.start()
        await first.execute(sql)
        second_transaction = second.transaction()
        await second_transaction.start()
        racing = asyncio.create_task(second.execute(sql))
        await _waiting_for_a_lock(first, second.get_server_pid())
        await first_transaction.commit()
        await asyncio.wait_for(racing, 30)
        await second_transaction.commit()
    finally:
        await first.close()
        await second.close()


async def test_creating_the_role_survives_a_concurrent_create(
    fresh_databases: list[str],
) -> None:
    """With a role name of its own, so that the role really is created twice at
    once (ticktide_readonly itself exists after the first run on a cluster)."""
    role = f"ticktide_ro_{uuid.uuid4().hex[:10]}"
    sql = MIGRATION.read_text(encoding="utf-8").replace(ROLE, role)
    assert sql.count(role) >= 6
    try:
        await create_role_racing(fresh_databases, sql)
        for dsn in fresh_databases:
            connection = await asyncpg.connect(dsn, user=role)
            try:
                await connection.execute("CREATE TABLE IF NOT EXISTS t (id int)")
            except asyncpg.InsufficientPrivilegeError:
                pass
            else:
                raise AssertionError(f"{role} could create a table")
            finally:
                await connection.close()
            owner = await asyncpg.connect(dsn)
            try:
                assert await owner.fetchval(
                    "SELECT has_database_privilege($1, current_database(), 'CONNECT')"
                    " AND has_schema_privilege($1, 'public', 'USAGE')",
                    role,
                )
                assert await owner.fetchval(
                    "SELECT count(*) FROM pg_default_acl WHERE array_to_string(defaclacl, ',')"
                    " LIKE $1 || '=r/%'",
                    role,
                ) == 2  # fmt: skip
            finally:
                await owner.close()
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            # The databases hold the role's grants: they go first.
            for dsn in fresh_databases:
                name = dsn.rpartition("/")[2]
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin.close()
