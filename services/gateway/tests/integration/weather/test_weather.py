"""`/api/weather/*` against the real gateway, PostgreSQL and Redis: the current
observation, hourly history, daily aggregates checked against an independent
computation, case-insensitive locations and the known-locations 404."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx

T0 = datetime(2024, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_current_is_the_newest_observation(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    missing = await api.get("/api/weather/current", params={"location": location})
    assert missing.status_code == 404
    assert f"no current weather stored for '{location}' yet" in missing.json()["detail"]

    await market.observations(
        location,
        "current",
        [
            (T0, 12.5, 80.0, 1013.2, 3.4, "overcast"),
            (T0 + 15 * timedelta(minutes=1), 12.75, 79.0, 1013.0, 3.6, "light rain"),
        ],
    )
    response = await api.get("/api/weather/current", params={"location": location.upper()})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "location": location,
        "source": "open-meteo",
        "observation": {
            "t": "2024-05-01T00:15:00Z",
            "temperature": 12.75,
            "humidity": 79.0,
            "pressure": 1013.0,
            "wind_speed": 3.6,
            "description": "light rain",
        },
    }


async def test_historic_hourly_range_and_simulated_label(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    await market.observations(
        location, "historic", [(T0 + h * HOUR, 10.0 + h, 70.0, 1000.0, 2.0, None) for h in range(6)]
    )
    await market.observations(
        location,
        "historic",
        [(T0 + 6 * HOUR, None, None, None, None, None)],
        source="simulated",
    )
    params = {"location": location.lower(), "start": _iso(T0 + HOUR), "end": _iso(T0 + 4 * HOUR)}
    body = (await api.get("/api/weather/historic", params=params)).json()
    assert (body["location"], body["source"], body["aggregate"]) == (location, "open-meteo", None)
    assert (body["start"], body["end"]) == ("2024-05-01T01:00:00Z", "2024-05-01T04:00:00Z")
    assert [o["t"] for o in body["observations"]] == [_iso(T0 + h * HOUR) for h in (1, 2, 3)]
    assert body["observations"][0] == {
        "t": "2024-05-01T01:00:00Z",
        "temperature": 11.0,
        "humidity": 70.0,
        "pressure": 1000.0,
        "wind_speed": 2.0,
        "description": None,
    }
    day = (
        await api.get(
            "/api/weather/historic",
            params={"location": location, "start": "2024-05-01", "end": "2024-05-02"},
        )
    ).json()
    assert day["source"] == "open-meteo+simulated"
    assert day["observations"][-1]["temperature"] is None
    assert (day["start"], day["end"]) == ("2024-05-01", "2024-05-02")


async def test_default_window_is_the_last_seven_days(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await market.observations(
        location,
        "historic",
        [(now - timedelta(days=d), float(d), 50.0, 1000.0, 1.0, None) for d in (0, 1, 6, 8)],
    )
    body = (await api.get("/api/weather/historic", params={"location": location})).json()
    assert [o["temperature"] for o in body["observations"]] == [6.0, 1.0, 0.0]


async def test_daily_aggregates_match_an_independent_computation(
    api: httpx.AsyncClient, market
) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    rng = random.Random(3)
    start = T0 + 5 * HOUR  # a partial first day
    rows = []
    for h in range(24 * 4 + 7):
        if rng.random() < 0.1:
            continue  # a missing hour
        rows.append(
            (
                start + h * HOUR,
                round(rng.uniform(-5, 25), 2),
                round(rng.uniform(30, 100), 1),
                round(rng.uniform(980, 1040), 1),
                round(rng.uniform(0, 15), 2) if rng.random() > 0.05 else None,
                "clear",
            )
        )
    await market.observations(location, "historic", rows)

    by_day: dict[str, list[tuple]] = defaultdict(list)  # type: ignore[type-arg]
    for row in rows:
        by_day[row[0].date().isoformat()].append(row)

    def mean(values: list[float]) -> float:
        return math.fsum(values) / len(values)

    expected = []
    for day in sorted(by_day):
        hours = by_day[day]
        temps = [r[1] for r in hours]
        winds = [r[4] for r in hours if r[4] is not None]
        expected.append(
            {
                "date": day,
                "temperature_min": min(temps),
                "temperature_mean": mean(temps),
                "temperature_max": max(temps),
                "humidity_mean": mean([r[2] for r in hours]),
                "pressure_mean": mean([r[3] for r in hours]),
                "wind_speed_mean": mean(winds),
                "hours": len(hours),
            }
        )
    body = (
        await api.get(
            "/api/weather/historic",
            params={
                "location": location,
                "start": "2024-05-01",
                "end": "2024-05-10",
                "aggregate": "daily",
            },
        )
    ).json()
    assert body["aggregate"] == "daily" and "observations" not in body
    assert [d["date"] for d in body["days"]] == [e["date"] for e in expected]
    for got, want in zip(body["days"], expected, strict=True):
        assert got["hours"] == want["hours"]
        for field in ("temperature_min", "temperature_max"):
            assert got[field] == want[field]
        for field in ("temperature_mean", "humidity_mean", "pressure_mean", "wind_speed_mean"):
            assert math.isclose(got[field], want[field], rel_tol=1e-12), (field, got, want)


async def test_unknown_location_lists_the_known_ones(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/weather/historic", params={"location": "Atlantis"})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.startswith("unknown location 'Atlantis'; known: ")
    assert "Helsinki" in detail and "London" in detail
