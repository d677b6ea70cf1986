"""The Redis cache of the stocks and weather bodies: a hit after the first call,
dropped when the writer's stored event for that symbol or location arrives on
the bus (and only then)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.messages import StockPricesStoredV1, WeatherStoredV1
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import wait_until

D0 = date(2024, 7, 1)


def stock_stored(symbol: str) -> StockPricesStoredV1:
    return StockPricesStoredV1(
        batch_id=uuid.uuid4(),
        symbol=symbol,
        exchange="NASDAQ",
        source="nasdaq",
        first_date=None,
        last_date=None,
        bars=1,
        rows_changed=1,
    )


def weather_stored(location: str) -> WeatherStoredV1:
    return WeatherStoredV1(
        batch_id=uuid.uuid4(),
        location=location,
        kind="historic",
        source="open-meteo",
        first_t=None,
        last_t=None,
        observations=1,
        rows_changed=1,
    )


async def _keys(redis: Redis, pattern: str) -> list[bytes]:
    return [k async for k in redis.scan_iter(match=pattern)]


async def test_stock_bodies_cached_until_the_symbols_stored_event(
    api: httpx.AsyncClient, market, redis_client: Redis, bus: Bus, settings: RedisSettings
) -> None:  # type: ignore[no-untyped-def]
    symbol, other = market.unique_symbol("C"), market.unique_symbol("C")
    await market.stock(symbol)
    await market.stock(other)
    bar = (D0, "1", "1", "1", "1", "1")
    await market.bars(symbol, [bar])
    await market.bars(other, [bar])
    params = {"symbol": symbol, "start": "2024-07-01", "end": "2024-08-01"}

    first = await api.get("/api/stocks/prices", params=params)
    assert first.headers["x-cache"] == "miss"
    pattern = f"{settings.ticktide_redis_prefix}gateway:stocks-prices:{symbol}@v*"

    async def stored() -> bool:  # the body is stored after the response is sent
        return len(await _keys(redis_client, pattern)) == 1

    await wait_until(stored, timeout=5, what="cached stock prices body in Redis")
    (key,) = await _keys(redis_client, pattern)
    assert await redis_client.get(key) == first.content
    second = await api.get("/api/stocks/prices", params=params)
    assert (second.headers["x-cache"], second.content) == ("hit", first.content)
    for path in ("/api/stocks/data", "/api/stocks/stats", "/api/stocks/latest"):
        assert (await api.get(path, params={"symbol": symbol})).headers["x-cache"] == "miss"
        assert (await api.get(path, params={"symbol": symbol})).headers["x-cache"] == "hit"
    multi = {"symbols": f"{symbol},{other}", "start": "2024-07-01", "end": "2024-08-01"}
    assert (
        len((await api.get("/api/stocks/multi", params=multi)).json()["stocks"][0]["prices"]) == 1
    )

    # A bar stored behind the cache's back is not seen until the stored event arrives.
    await market.bars(symbol, [(D0 + timedelta(days=1), "2", "2", "2", "2", "2")], invalidate=False)
    assert len((await api.get("/api/stocks/prices", params=params)).json()["prices"]) == 1

    # Another symbol's event leaves this one cached, but drops /latest.
    version_key = f"{settings.ticktide_redis_prefix}gateway:stocks-version:{other}"
    before = int(await redis_client.get(version_key) or 0)
    await bus.publish(stock_stored(other))

    async def other_bumped() -> bool:
        return int(await redis_client.get(version_key) or 0) > before

    await wait_until(other_bumped, timeout=10, what="the other symbol's version bump")
    assert (await api.get("/api/stocks/prices", params=params)).headers["x-cache"] == "hit"
    latest = (await api.get("/api/stocks/latest")).json()
    assert {s["symbol"]: s["date"] for s in latest["stocks"]}[symbol] == "2024-07-02"

    await bus.publish(stock_stored(symbol))

    async def new_bar_served() -> bool:
        response = await api.get("/api/stocks/prices", params=params)
        return len(response.json()["prices"]) == 2

    await wait_until(new_bar_served, timeout=10, what="cache invalidation by StockPricesStoredV1")
    assert not await redis_client.exists(key)  # deleted, not left to expire
    assert (await api.get("/api/stocks/prices", params=params)).headers["x-cache"] == "hit"
    data = (await api.get("/api/stocks/data", params={"symbol": symbol})).json()
    assert data["days"] == 2
    multi_body = (await api.get("/api/stocks/multi", params=multi)).json()
    assert len(multi_body["stocks"][0]["prices"]) == 2


async def test_weather_bodies_cached_until_the_locations_stored_event(
    api: httpx.AsyncClient, market, redis_client: Redis, bus: Bus, settings: RedisSettings
) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    t0 = datetime(2024, 7, 1, tzinfo=UTC)
    await market.observations(location, "historic", [(t0, 20.0, 50.0, 1010.0, 2.0, None)])
    await market.observations(location, "current", [(t0, 20.0, 50.0, 1010.0, 2.0, "sun")])
    params = {"location": location, "start": "2024-07-01", "end": "2024-07-02"}
    daily = {**params, "aggregate": "daily"}
    for p, path in ((params, "historic"), (daily, "historic"), ({"location": location}, "current")):
        assert (await api.get(f"/api/weather/{path}", params=p)).headers["x-cache"] == "miss"
        assert (await api.get(f"/api/weather/{path}", params=p)).headers["x-cache"] == "hit"
    # Any spelling of the name reads the same cached body.
    shouted = {**params, "location": location.upper()}
    assert (await api.get("/api/weather/historic", params=shouted)).headers["x-cache"] == "hit"

    await market.observations(
        location,
        "historic",
        [(t0 + timedelta(hours=1), 22.0, 50.0, 1010.0, 2.0, None)],
        invalidate=False,
    )
    await market.observations(
        location,
        "current",
        [(t0 + timedelta(hours=1), 22.0, 50.0, 1010.0, 2.0, "sun")],
        invalidate=False,
    )
    assert len((await api.get("/api/weather/historic", params=params)).json()["observations"]) == 1

    await bus.publish(weather_stored(location))

    async def new_hour_served() -> bool:
        body = (await api.get("/api/weather/historic", params=params)).json()
        return len(body["observations"]) == 2

    await wait_until(new_hour_served, timeout=10, what="cache invalidation by WeatherStoredV1")
    assert (await api.get("/api/weather/historic", params=daily)).json()["days"][0]["hours"] == 2
    current = (await api.get("/api/weather/current", params={"location": location})).json()
    assert current["observation"]["temperature"] == 22.0
