"""Fixtures: each test run gets its own database (migrated once), bus prefix and
Redis key prefix on the machine's shared servers, and removes them afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import aio_pika
import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from ticktide_common.api_tokens import ApiTokenSettings
from ticktide_common.bus import Bus
from ticktide_common.faults import CommitFaultSettings
from ticktide_common.migrate import apply_migrations
from ticktide_common.sessions import SessionSettings
from ticktide_common.settings import (
    BacktestLimitsSettings,
    BusSettings,
    DatabaseSettings,
    HistoryBoundsSettings,
    MarketCatalogueSettings,
    ProxyTrustSettings,
    RedisSettings,
    ServiceSettings,
    UpstreamHttpSettings,
)
from ticktide_common.testing.proxy import TEST_PROXY_SECRET
from ticktide_common.topology import Topology

S = TypeVar("S", bound=ServiceSettings)
B = TypeVar("B", bound=BusSettings)

ADMIN_DSN = os.environ.get(
    "TICKTIDE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_report_header(config: pytest.Config) -> str:
    """Which database leg this run is: the admin DSN and what its server offers."""
    import asyncio

    async def describe() -> str:
        connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
        try:
            version = await connection.fetchval("SHOW server_version")
            preload = await connection.fetchval("SHOW shared_preload_libraries")
            available = await connection.fetchval(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
            )
        finally:
            await connection.close()
        if "timescaledb" in preload:
            return f"PostgreSQL {version}, TimescaleDB {available} preloaded (TimescaleDB leg)"
        if available:
            return f"PostgreSQL {version}, TimescaleDB installed, not preloaded (plain path)"
        return f"PostgreSQL {version}, no TimescaleDB (plain PostgreSQL leg)"

    host = ADMIN_DSN.rpartition("@")[2].rpartition("/")[0]
    try:
        return f"database: {host}: {asyncio.run(describe())}"
    except (OSError, asyncpg.PostgresError) as error:
        return f"database: {host}: not answering ({error})"


def _replace_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"tt{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    name = f"ticktide_test_{run_id}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _replace_database(ADMIN_DSN, name)
    await apply_migrations(dsn)
    yield dsn
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class RunSettings(
    DatabaseSettings,
    SessionSettings,
    BusSettings,
    ProxyTrustSettings,
    MarketCatalogueSettings,
    HistoryBoundsSettings,
    UpstreamHttpSettings,
    BacktestLimitsSettings,
    ApiTokenSettings,
    CommitFaultSettings,
):
    """A test run's values of the settings the services share: its own database,
    bus prefix and Redis prefix on the machine's servers, and the proxy secret.
    A service's tests read it as the service's own class (`settings_for`), which
    adds that service's fields at their defaults (schedulers off)."""


# Every test run's values of service-only fields, applied by `settings_for` to the
# classes that have them: no scheduler starts work a test did not ask for.
TEST_RUN_FIELDS: dict[str, Any] = {
    "crypto_scheduler_enabled": False,
    "stocks_scheduler_enabled": False,
    "weather_scheduler_enabled": False,
}


@pytest.fixture(scope="session")
def run_settings(database_url: str, run_id: str) -> RunSettings:
    """This run's shared settings; the fixtures of servers (bus, Redis, service
    subprocesses) read these, whatever class a suite's `settings` is."""
    return RunSettings(
        ticktide_env="test",
        database_url=database_url,
        ticktide_bus_prefix=run_id,
        ticktide_redis_prefix=f"{run_id}:",
        ticktide_proxy_secret=TEST_PROXY_SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def settings(run_settings: RunSettings) -> ServiceSettings:
    """The settings a test reads: the run's, unless a service's tests/conftest.py
    overrides this with its own class (`settings_for`)."""
    return run_settings


def settings_for(cls: type[S], settings: ServiceSettings, **overrides: Any) -> S:
    """A service's own settings class (`AuthSettings`, `WriterSettings`, ...) with
    the run's values of `settings` for every field the two share, then `overrides`:
    how a test builds a service in-process on the run's isolated servers."""
    shared = type(settings).model_fields
    values = {name: getattr(settings, name) for name in cls.model_fields if name in shared}
    run = {name: value for name, value in TEST_RUN_FIELDS.items() if name in cls.model_fields}
    return cls(**{**run, **values, **overrides}, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def service_env(
    run_settings: RunSettings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment for service subprocesses of this run."""
    return {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": run_settings.database_url,
        "REDIS_URL": run_settings.redis_url,
        "AMQP_URL": run_settings.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_settings.ticktide_bus_prefix,
        "TICKTIDE_REDIS_PREFIX": run_settings.ticktide_redis_prefix,
        "CRYPTO_SCHEDULER_ENABLED": "0",
        "STOCKS_SCHEDULER_ENABLED": "0",
        "WEATHER_SCHEDULER_ENABLED": "0",
        "TICKTIDE_SIMULATED_FALLBACK": "0",
        "LOG_LEVEL": "INFO",
        "TICKTIDE_PROXY_SECRET": TEST_PROXY_SECRET,
    }


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def topology(run_settings: RunSettings) -> Topology:
    return Topology(
        prefix=run_settings.ticktide_bus_prefix,
        default_delivery_limit=run_settings.bus_delivery_limit,
    )


@pytest.fixture(scope="session")
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def bus(run_settings: RunSettings, topology: Topology) -> AsyncIterator[Bus]:
    """A bus on this run's prefix; deletes the run's queues and exchanges at the end."""
    connected = await Bus.connect(run_settings.amqp_url, topology, service="tests")
    yield connected
    await connected.close()
    await delete_bus_names(run_settings.amqp_url, topology)


@dataclass
class IsolatedBus(Generic[B]):
    """A bus on a prefix of its own, and the settings that name that prefix."""

    bus: Bus
    settings: B
    topology: Topology


@asynccontextmanager
async def open_isolated_bus(
    settings: B, service: str, **overrides: object
) -> AsyncIterator[IsolatedBus[B]]:
    """A bus on a fresh prefix (so no other test's consumer competes for its
    messages) with `settings` updated by `overrides`; its names are deleted after."""
    prefix = f"{settings.ticktide_bus_prefix}-{uuid.uuid4().hex[:6]}"
    isolated = settings.model_copy(update={**overrides, "ticktide_bus_prefix": prefix})
    topology = Topology(prefix=prefix, default_delivery_limit=settings.bus_delivery_limit)
    bus = await Bus.connect(settings.amqp_url, topology, service=service)
    try:
        yield IsolatedBus(bus, isolated, topology)
    finally:
        await bus.close()
        await delete_bus_names(settings.amqp_url, topology)


async def delete_bus_names(amqp_url: str, topology: Topology) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for spec in topology.queues:
            for name in (topology.queue_name(spec), topology.dlq_name(spec)):
                await channel.queue_delete(name)
        await channel.exchange_delete(topology.events_exchange)
        await channel.exchange_delete(topology.dead_letter_exchange)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def redis_client(run_settings: RunSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(run_settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session", autouse=True)
async def _delete_run_redis_keys(run_id: str) -> AsyncIterator[None]:
    """At the end of the session, every Redis key of the run's prefix goes, whatever
    wrote it (a service process, a test stack, `make up` in a test). Autouse, so it
    is set up first and torn down last; it needs no database, so unit-only runs
    stay cheap, and a machine without Redis (nothing written) is not an error."""
    yield
    client = Redis.from_url(
        os.environ.get("REDIS_URL", RedisSettings.model_fields["redis_url"].default)
    )
    try:
        async for key in client.scan_iter(match=f"{run_id}:*", count=500):
            await client.delete(key)
    except RedisConnectionError:
        pass
    finally:
        await client.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def repo_root() -> Iterator[Path]:
    for parent in Path(__file__).resolve().parents:
        if (parent / "db" / "migrations").is_dir():
            yield parent
            return
    raise RuntimeError("repository root not found")
