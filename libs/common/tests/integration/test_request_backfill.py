"""`jobs.request_backfill` on the real PostgreSQL and RabbitMQ: the one way a
backfill starts, whatever its domain. The job's row says what the command asks
(a stocks job's dates as midnights UTC, a weather location as its `symbol`), and
the command itself reaches the events exchange unchanged, under the job's id."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import BackfillRequested, request_backfill
from ticktide_common.messages import (
    CryptoBackfillRequestedV1,
    StocksBackfillRequestedV1,
    WeatherBackfillRequestedV1,
)
from ticktide_common.testing.events import EventProbe
from ticktide_common.topology import Topology

pytestmark = pytest.mark.integration

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 3, 5, tzinfo=UTC)

CASES = [
    pytest.param(
        CryptoBackfillRequestedV1(
            job_id=uuid.uuid4(),
            symbol="BTCUSDT",
            interval="4h",
            start=T0,
            end=T1,
            requested_by="admin",
        ),
        ("BTCUSDT", "4h", T0, T1, "admin", "crypto"),
        id="crypto",
    ),
    pytest.param(
        StocksBackfillRequestedV1(
            job_id=uuid.uuid4(),
            symbol="NDA-FI",
            exchange="OMXH",
            start=date(2024, 1, 2),
            end=date(2024, 2, 1),
            requested_by="scheduler",
        ),
        (
            "NDA-FI",
            "1d",
            datetime(2024, 1, 2, tzinfo=UTC),
            datetime(2024, 2, 1, tzinfo=UTC),
            "scheduler",
            "stocks",
        ),
        id="stocks",
    ),
    pytest.param(
        WeatherBackfillRequestedV1(
            job_id=uuid.uuid4(), location="Helsinki", start=T0, end=T1, requested_by="gap-refill"
        ),
        ("Helsinki", "1h", T0, T1, "gap-refill", "weather"),
        id="weather",
    ),
]


@pytest.mark.parametrize(("command", "row"), CASES)
async def test_records_the_job_then_publishes_its_command(
    db_pool: asyncpg.Pool,
    bus: Bus,
    settings,
    topology: Topology,
    command: BackfillRequested,
    row: tuple[object, ...],
) -> None:
    async with EventProbe(settings.amqp_url, topology, type(command)) as probe:
        job_id = await request_backfill(db_pool, bus, command, kind="scheduled")
        published = await probe.wait_for(lambda event: event.job_id == job_id, timeout=10)

    assert job_id == command.job_id
    assert [event.model_dump_json() for event in published] == [command.model_dump_json()]
    job = await db_pool.fetchrow(
        """SELECT kind, status, symbol, interval_type, range_start, range_end, requested_by,
                  domain
           FROM ingest_jobs WHERE id = $1""",
        job_id,
    )
    assert job is not None
    assert tuple(job) == ("scheduled", "queued", *row)
