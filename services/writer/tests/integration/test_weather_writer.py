"""Weather with the real writer, PostgreSQL and RabbitMQ: `weather.observations.v1`
goes to `weather_historic` or `weather_current` by kind, with the provider's
payload as jsonb and the location name as sent, once, announced after the
commit; simulated rows never replace real ones while real ones replace
simulated; a message that can never be stored is dead-lettered while the
writer keeps consuming."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from ticktide_common.messages import WeatherObservationsV1, WeatherObservationV1, WeatherStoredV1
from ticktide_common.testing.events import EventProbe
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import WRITER_WEATHER
from ticktide_writer.weather_repository import WeatherRepository
from ticktide_writer.weather_writer import WeatherWriter

from .conftest import IsolatedWriter

pytestmark = pytest.mark.integration

Probe = EventProbe[WeatherStoredV1]
T0 = datetime(2024, 5, 1, tzinfo=UTC)
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture
async def stored(isolated_writer: IsolatedWriter) -> AsyncIterator[Probe]:
    writer = isolated_writer
    async with EventProbe(writer.settings.amqp_url, writer.topology, WeatherStoredV1) as probe:
        yield probe


def new_location() -> str:
    """A location no configuration knows (names take letters, spaces, . ' -)."""
    return f"Tt {uuid.uuid4().hex[:10].translate(_LETTERS).capitalize()}-on-Sea"


def observation(hour: int, temperature: float | None = 12.3, **raw: Any) -> WeatherObservationV1:
    t = T0 + timedelta(hours=hour)
    return WeatherObservationV1(
        t=t,
        temperature=temperature,
        humidity=81.0,
        pressure=1012.4,
        wind_speed=4.17,
        description="Overcast",
        raw={"time": t.strftime("%Y-%m-%dT%H:%M"), "temperature_2m": temperature, **raw},
    )


def observations(
    location: str,
    kind: str,
    rows: list[WeatherObservationV1],
    source: str = "open-meteo",
) -> WeatherObservationsV1:
    return WeatherObservationsV1.model_validate(
        {
            "batch_id": uuid.uuid4(),
            "job_id": uuid.uuid4(),
            "location": location,
            "kind": kind,
            "source": source,
            "observations": rows,
        }
    )


async def publish_and_wait(
    writer: IsolatedWriter, probe: Probe, message: WeatherObservationsV1, count: int = 1
) -> WeatherStoredV1:
    await writer.bus.publish(message)
    events = await probe.wait_for(lambda e: e.batch_id == message.batch_id, count=count)
    return events[-1]


async def stored_rows(pool: asyncpg.Pool, table: str, location: str) -> list[dict[str, Any]]:
    assert table in {"weather_current", "weather_historic"}
    rows = await pool.fetch(
        f"""SELECT datetime, temperature, humidity, pressure, wind_speed, description, source,
                   weather_data::text AS raw
            FROM {table} WHERE location = $1 ORDER BY datetime""",  # noqa: S608
        location,
    )
    return [{**dict(r), "raw": json.loads(r["raw"])} for r in rows]


def expected(rows: list[WeatherObservationV1], source: str = "open-meteo") -> list[dict[str, Any]]:
    return [
        {
            "datetime": o.t,
            "temperature": o.temperature,
            "humidity": o.humidity,
            "pressure": o.pressure,
            "wind_speed": o.wind_speed,
            "description": o.description,
            "source": source,
            "raw": o.raw,
        }
        for o in rows
    ]


async def test_historic_and_current_go_to_their_tables_with_jsonb_raw(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    location = new_location()
    hours = [observation(0), observation(1, None), observation(2, -3.5, weather_code=71)]
    historic = await publish_and_wait(
        isolated_writer, stored, observations(location, "historic", hours)
    )
    now = observation(5, 14.25, nested={"main": {"temp": 287.4}, "weather": [{"id": 804}]})
    current = await publish_and_wait(
        isolated_writer, stored, observations(location, "current", [now], "openweather")
    )

    assert await stored_rows(db_pool, "weather_historic", location) == expected(hours)
    assert await stored_rows(db_pool, "weather_current", location) == expected([now], "openweather")
    assert (historic.kind, historic.observations, historic.rows_changed) == ("historic", 3, 3)
    assert (historic.first_t, historic.last_t) == (hours[0].t, hours[-1].t)
    assert (current.kind, current.source, current.rows_changed) == ("current", "openweather", 1)
    assert current.location == location
    kind_of_raw = await db_pool.fetchval(
        "SELECT jsonb_typeof(weather_data -> 'nested') FROM weather_current WHERE location = $1",
        location,
    )
    assert kind_of_raw == "object"
    configured = await db_pool.fetchval(
        "SELECT count(*) FROM weather_locations WHERE name = $1", location
    )
    assert configured == 0  # accepted as sent; the ingester owns the configuration


async def test_same_message_twice_is_one_copy_and_announced_twice(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    location = new_location()
    message = observations(location, "historic", [observation(0), observation(1)])
    first = await publish_and_wait(isolated_writer, stored, message)
    second = await publish_and_wait(isolated_writer, stored, message, count=2)

    assert (first.rows_changed, second.rows_changed) == (2, 0)
    assert len(await stored_rows(db_pool, "weather_historic", location)) == 2
    claimed = await db_pool.fetchval(
        "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", message.batch_id
    )
    assert claimed == 1


async def test_simulated_never_overwrites_real_but_real_overwrites_simulated(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    location = new_location()
    real = [observation(0), observation(1)]
    await publish_and_wait(isolated_writer, stored, observations(location, "historic", real))
    fake = [observation(0, 99.0), observation(1, 99.0), observation(2, 99.0)]
    event = await publish_and_wait(
        isolated_writer, stored, observations(location, "historic", fake, "simulated")
    )
    rows = await stored_rows(db_pool, "weather_historic", location)
    assert rows == [*expected(real), *expected(fake[2:], "simulated")]
    assert event.rows_changed == 1

    refilled = observation(2, 7.5)
    event = await publish_and_wait(
        isolated_writer, stored, observations(location, "historic", [refilled])
    )
    rows = await stored_rows(db_pool, "weather_historic", location)
    assert rows == expected([*real, refilled])
    assert event.rows_changed == 1


async def test_unstorable_messages_are_dead_lettered_and_consuming_goes_on(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    writer = isolated_writer
    key = WeatherObservationsV1.routing_key
    await writer.publish_raw(b"{ not json", key)
    wrong_kind = observations(new_location(), "historic", [observation(0)])
    body = json.loads(wrong_kind.model_dump_json())
    body["kind"] = "daily"
    await writer.publish_raw(json.dumps(body).encode(), key)
    # Valid by schema, refused by PostgreSQL: jsonb holds no NUL character.
    nul = observations(new_location(), "historic", [observation(0, note="a\u0000b")])
    await writer.bus.publish(nul)

    async def dead_lettered() -> bool:
        return await writer.dlq_depth(WRITER_WEATHER) >= 3

    await wait_until(dead_lettered, timeout=20, what="three bad messages in writer.weather.dlq")
    location = new_location()
    good = [observation(0)]
    await publish_and_wait(writer, stored, observations(location, "current", good))
    assert await stored_rows(db_pool, "weather_current", location) == expected(good)
    assert await stored_rows(db_pool, "weather_historic", nul.location) == []


async def test_stored_event_is_published_after_commit(db_pool: asyncpg.Pool) -> None:
    location = new_location()
    message = observations(location, "current", [observation(0)])
    visible_at_publish: list[int] = []

    async def publish(event: WeatherStoredV1) -> None:
        rows = await stored_rows(db_pool, "weather_current", event.location)
        visible_at_publish.append(len(rows))

    writer = WeatherWriter(WeatherRepository(db_pool), publish)
    await writer.handle(message)
    await writer.stop()
    assert visible_at_publish == [1]
