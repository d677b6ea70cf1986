"""Issue 5's weather path end to end, as real processes: Open-Meteo / OpenWeather
(fakes in the providers' formats: column-oriented arrays, Kelvin without
`units`) → ingest-weather → bus → writer → PostgreSQL → gateway.

A month of Helsinki history has one row per hour equal to what was served after
unit normalisation; a second, overlapping backfill (by the CLI) adds no
duplicate; daily aggregation equals an independent computation; a provider
error fails the job with its reason and stores nothing; a 5xx and an empty
answer are retried; current weather arrives on the schedule; OpenWeather's Kelvin
is stored as °C."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, cli_env
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

LAT, LON = 60.1699, 24.9384
JAN = datetime(2024, 1, 1, tzinfo=UTC)
FEB = datetime(2024, 2, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def backfill(
    client: httpx.AsyncClient, location: str, start: datetime, end: datetime
) -> dict[str, Any]:
    response = await client.post(
        "/api/admin/ingest/weather/backfill",
        json={"location": location, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 202, response.text
    job_url = f"/api/admin/ingest/jobs/{response.json()['job_id']}"

    async def over() -> bool:
        return (await client.get(job_url)).json()["status"] in ("done", "failed")

    await wait_until(over, timeout=90, what=f"weather job {job_url}")
    job: dict[str, Any] = (await client.get(job_url)).json()
    return job


async def stored_hours(
    pool: asyncpg.Pool, location: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT datetime, temperature, humidity, pressure, wind_speed, description, source,
                      weather_data
               FROM weather_historic
               WHERE location = $1 AND datetime >= $2 AND datetime < $3 ORDER BY datetime""",
            location,
            start,
            end,
        )
    )


async def ticktide(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode()


async def test_a_month_of_open_meteo_history_one_row_per_hour_and_daily_aggregates(
    weather_stack: CryptoStack, fake_open_meteo: FakeOpenMeteo, db_pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(
        base_url=weather_stack.api, headers=await admin_headers(db_pool), timeout=30
    ) as client:
        fake_open_meteo.fail_next(503, times=1)
        fake_open_meteo.empty_next(times=1)
        job = await backfill(client, "helsinki", JAN, FEB)  # names match case-insensitively
        assert job["status"] == "done", job
        statuses = [r.status for r in fake_open_meteo.requests("/v1/archive")]
        assert statuses[0] == 503 and statuses[-1] == 200, statuses

        served = fake_open_meteo.hourly(LAT, LON, JAN, FEB)
        rows = await stored_hours(db_pool, "Helsinki", JAN, FEB)
        assert len(rows) == 744 == len(served)
        assert [r["datetime"] for r in rows] == [JAN + i * HOUR for i in range(744)]
        assert [
            (r["temperature"], r["humidity"], r["pressure"], r["wind_speed"], r["description"])
            for r in rows
        ] == [(h.temperature, h.humidity, h.pressure, h.wind_speed, h.description) for h in served]
        assert {r["source"] for r in rows} == {"open-meteo"}
        assert all(r["weather_data"] for r in rows)  # the provider's values of that hour

        # A second backfill by the CLI overlaps the first by half a month: no duplicates.
        code, output = await ticktide(
            await cli_env(weather_stack, db_pool),
            "backfill",
            "weather",
            "Helsinki",
            "--start",
            "2024-01-16",
            "--end",
            "2024-02-16",
        )
        assert code == 0, output
        assert "stored 744 hours of Helsinki" in output, output
        duplicates = await db_pool.fetchval(
            """SELECT count(*) - count(DISTINCT datetime) FROM weather_historic
               WHERE location = 'Helsinki'"""
        )
        assert duplicates == 0
        until = datetime(2024, 2, 16, tzinfo=UTC)
        assert len(await stored_hours(db_pool, "Helsinki", JAN, until)) == 46 * 24

        # Daily aggregation against an independent computation over the served hours.
        response = await client.get(
            "/api/weather/historic",
            params={
                "location": "Helsinki",
                "start": JAN.isoformat(),
                "end": FEB.isoformat(),
                "aggregate": "daily",
            },
        )
        assert response.status_code == 200, response.text
        days = response.json()["days"]
        assert len(days) == 31
        for index, day in enumerate(days):
            hours = served[index * 24 : (index + 1) * 24]
            temperatures = [h.temperature for h in hours if h.temperature is not None]
            assert day["date"] == (JAN + index * 24 * HOUR).date().isoformat()
            assert day["hours"] == 24
            assert day["temperature_min"] == min(temperatures)
            assert day["temperature_max"] == max(temperatures)
            assert abs(day["temperature_mean"] - statistics.fmean(temperatures)) < 1e-9
            pressures = [h.pressure for h in hours if h.pressure is not None]
            assert abs(day["pressure_mean"] - statistics.fmean(pressures)) < 1e-9

        hourly = await client.get(
            "/api/weather/historic",
            params={"location": "Helsinki", "start": "2024-01-02", "end": "2024-01-03"},
        )
        assert hourly.status_code == 200, hourly.text
        observations = hourly.json()["observations"]
        assert len(observations) == 24
        assert observations[0]["temperature"] == served[24].temperature

        # A provider error: the job fails with the provider's reason, nothing is stored.
        fake_open_meteo.error_next(times=1, message="Parameter 'start_date' is out of range")
        march, april = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
        failed = await backfill(client, "Helsinki", march, april)
        assert failed["status"] == "failed", failed
        assert "out of range" in failed["error"], failed
        assert await stored_hours(db_pool, "Helsinki", march, april) == []

        # Bad input answers 4xx saying what was wrong.
        for params in (
            {"location": "Atlantis"},
            {"location": "Helsinki", "start": "yesterday"},
            {"location": "Helsinki", "start": "2024-02-01", "end": "2024-01-01"},
            {"location": "Helsinki", "aggregate": "weekly"},
            {"location": "Helsinki", "start": "2020-01-01", "end": "2024-01-01"},
        ):
            bad = await client.get("/api/weather/historic", params=params)
            assert 400 <= bad.status_code < 500, (params, bad.status_code, bad.text)
            assert bad.json()["detail"], bad.text
        code, output = await ticktide(
            await cli_env(weather_stack, db_pool), "backfill", "weather", "Atlantis"
        )
        assert code == 1 and "unknown location 'Atlantis'" in output, output


async def test_openweather_kelvin_is_stored_in_celsius(
    openweather_stack: tuple[CryptoStack, FakeOpenWeather], db_pool: asyncpg.Pool
) -> None:
    stack, openweather = openweather_stack
    start = datetime(2024, 7, 1, tzinfo=UTC)
    end = start + 12 * HOUR
    async with httpx.AsyncClient(
        base_url=stack.api, headers=await admin_headers(db_pool), timeout=30
    ) as client:
        job = await backfill(client, "Helsinki", start, end)
        assert job["status"] == "done", job

        # Current weather arrives on the schedule and is served.
        async def current_stored() -> bool:
            answer = await client.get("/api/weather/current", params={"location": "Helsinki"})
            return answer.status_code == 200

        await wait_until(current_stored, timeout=30, what="current weather of Helsinki")
        current = (await client.get("/api/weather/current", params={"location": "Helsinki"})).json()
        assert current["source"] == "openweather"
        assert set(current["observation"]) >= {
            "t",
            "temperature",
            "humidity",
            "pressure",
            "wind_speed",
            "description",
        }

    served = openweather.hourly(LAT, LON, start, end)
    rows = await stored_hours(db_pool, "Helsinki", start, end)
    assert [r["datetime"] for r in rows] == [h.t for h in served]
    assert [r["temperature"] for r in rows] == [h.kelvin - 273.15 for h in served]
    assert [(r["humidity"], r["pressure"], r["wind_speed"]) for r in rows] == [
        (h.humidity, h.pressure, h.wind_speed) for h in served
    ]
    assert {r["source"] for r in rows} == {"openweather"}
    assert all(270 < h.kelvin < 320 for h in served)  # served in Kelvin, not °C
    requests = [
        r
        for r in openweather.requests("/data/3.0/onecall/timemachine")
        if start.timestamp() <= int(r.params["dt"]) < end.timestamp()
    ]
    assert len(requests) == 12 and all("units" not in r.params for r in requests)
