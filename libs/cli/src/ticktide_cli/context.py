"""What a CLI command needs: settings, a pool and a bus, opened and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.settings import Settings
from ticktide_common.topology import QueueSpec, Topology

__all__ = ["CliContext", "open_context", "CliError"]


class CliError(Exception):
    """A failure to explain to the user in one line; the command exits non-zero."""


@dataclass
class CliContext:
    settings: Settings
    pool: asyncpg.Pool
    bus: Bus

    async def require_consumer(self, spec: QueueSpec, service: str) -> None:
        _, consumers = await self.bus.queue_status(spec)
        if consumers == 0:
            raise CliError(
                f"{service} is not running (no consumer on {self.bus.topology.queue_name(spec)});"
                " start the stack with `make up`"
            )


@asynccontextmanager
async def open_context(settings: Settings) -> AsyncIterator[CliContext]:
    try:
        pool = await create_pool(settings.database_url, max_size=3, application_name="ticktide-cli")
    except Exception as exc:
        raise CliError(f"cannot reach PostgreSQL at DATABASE_URL: {exc}") from exc
    try:
        try:
            bus = await Bus.connect(
                settings.amqp_url,
                Topology(settings.ticktide_bus_prefix, settings.bus_delivery_limit),
                service="cli",
                publish_timeout=settings.bus_publish_timeout_seconds,
            )
        except Exception as exc:
            raise CliError(f"cannot reach RabbitMQ at AMQP_URL: {exc}") from exc
        try:
            yield CliContext(settings, pool, bus)
        finally:
            await bus.close()
    finally:
        await pool.close()
