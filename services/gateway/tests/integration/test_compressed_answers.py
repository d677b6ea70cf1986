"""Cached stocks and weather answers in the coding each client takes, against the
real gateway, PostgreSQL, Redis and RabbitMQ: the first answer is built and sent as
it is, the compressed forms are made after it and served from then on (brotli
to `gzip, br`, gzip to `gzip`, the identity bytes without `Accept-Encoding`),
every form decodes to the same bytes, every answer says `Vary: Accept-Encoding`,
and the series' stored event deletes the compressed forms with the body."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import wait_until
from ticktide_gateway.content_coding import brotli_bytes, brotli_refined, decode

from .test_stocks_weather_cache import stock_stored, weather_stored


async def _fetch(
    api: httpx.AsyncClient, path: str, params: dict[str, str], accept: str | None
) -> tuple[httpx.Response, bytes]:
    """The answer and its bytes as sent (not decoded); `accept` None sends no
    Accept-Encoding at all."""
    request = api.build_request("GET", path, params=params)
    if accept is None:
        del request.headers["accept-encoding"]
    else:
        request.headers["accept-encoding"] = accept
    response = await api.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    assert response.status_code == 200, raw[:300]
    assert response.headers["vary"] == "Accept-Encoding"
    return response, raw


async def _served_in_every_coding(
    api: httpx.AsyncClient, path: str, params: dict[str, str]
) -> bytes:
    """Checks the coding of each answer from the first (a miss) on; the identity body."""
    first, identity = await _fetch(api, path, params, "gzip, br")
    assert first.headers["x-cache"] == "miss"
    assert "content-encoding" not in first.headers  # nothing compressed on the request's path
    assert identity.startswith(b"{") and len(identity) >= 1024

    async def brotli_served() -> bool:
        response, _ = await _fetch(api, path, params, "gzip, br")
        return response.headers.get("content-encoding") == "br"

    await wait_until(brotli_served, timeout=5, interval=0.05, what=f"{path} stored as brotli")
    answers: dict[str | None, tuple[httpx.Response, bytes]] = {
        accept: await _fetch(api, path, params, accept)
        for accept in ("gzip, br", "gzip", "gzip;q=0.5, br;q=0.1", "br;q=0, gzip;q=0", None)
    }
    expected = {
        "gzip, br": "br",
        "gzip": "gzip",
        "gzip;q=0.5, br;q=0.1": "gzip",
        "br;q=0, gzip;q=0": "identity",
        None: "identity",
    }
    for accept, (response, raw) in answers.items():
        coding = response.headers.get("content-encoding", "identity")
        assert (accept, coding, response.headers["x-cache"]) == (accept, expected[accept], "hit")
        assert int(response.headers["content-length"]) == len(raw)
        assert decode(raw, coding) == identity, accept
    assert len(answers["gzip, br"][1]) < len(answers["gzip"][1]) < len(identity)
    assert answers[None][1] == identity

    # Then the brotli form is replaced by its refined form, once, where that is smaller.
    first, refined = brotli_bytes(identity), brotli_refined(identity)
    best = refined if len(refined) < len(first) else first

    async def best_served() -> bool:
        response, raw = await _fetch(api, path, params, "gzip, br")
        return raw == best

    await wait_until(best_served, timeout=10, interval=0.05, what=f"{path}'s smallest brotli form")
    return identity


async def _keys(redis: Redis, pattern: str) -> set[bytes]:
    return {k async for k in redis.scan_iter(match=pattern)}


async def _dropped_by(bus: Bus, event: Any, redis: Redis, pattern: str) -> None:
    """Publishes the stored event; waits until every form under `pattern` is gone."""
    await bus.publish(event)

    async def gone() -> bool:
        return not await _keys(redis, pattern)

    await wait_until(gone, timeout=10, what=f"{type(event).__name__} deleting {pattern}")


async def test_stock_prices_in_every_coding_until_the_stored_event(
    api: httpx.AsyncClient, market, redis_client: Redis, bus: Bus, settings: RedisSettings
) -> None:  # type: ignore[no-untyped-def]
    symbol = market.unique_symbol("Z")
    await market.stock(symbol)
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(40)]
    bars = [
        (
            d,
            None if i % 3 == 0 else f"{10 + i}.25",
            f"{11 + i}.5",
            f"{9 + i}",
            f"{10 + i}.1",
            "1000",
        )
        for i, d in enumerate(days)
    ]
    await market.bars(symbol, bars)
    params = {"symbol": symbol, "start": "2024-03-01", "end": "2024-04-15"}
    columns = {**params, "format": "columns"}
    rows_body = await _served_in_every_coding(api, "/api/stocks/prices", params)
    columns_body = await _served_in_every_coding(api, "/api/stocks/prices", columns)
    assert rows_body != columns_body  # the format is part of the key

    pattern = f"{settings.ticktide_redis_prefix}gateway:stocks-prices:{symbol}@v*"
    stored = await _keys(redis_client, pattern)
    assert len(stored) == 6  # two bodies, each as identity, gzip and brotli
    assert {k.rsplit(b"|", 1)[-1] for k in stored if b"|" in k} == {b"gzip", b"br"}

    await _dropped_by(bus, stock_stored(symbol), redis_client, pattern)
    again, raw = await _fetch(api, "/api/stocks/prices", params, "gzip, br")
    assert (again.headers["x-cache"], raw) == ("miss", rows_body)


async def test_weather_history_in_every_coding_until_the_stored_event(
    api: httpx.AsyncClient, market, redis_client: Redis, bus: Bus, settings: RedisSettings
) -> None:  # type: ignore[no-untyped-def]
    location = await market.new_location()
    t0 = datetime(2024, 7, 1, tzinfo=UTC)
    hours = [(t0 + timedelta(hours=h), 15.0 + h / 4, 60.0, 1010.5, 2.0, None) for h in range(30)]
    await market.observations(location, "historic", hours)
    params = {"location": location, "start": "2024-07-01", "end": "2024-07-03"}
    await _served_in_every_coding(api, "/api/weather/historic", params)

    pattern = f"{settings.ticktide_redis_prefix}gateway:weather-historic:{location}@v*"
    assert len(await _keys(redis_client, pattern)) == 3
    await _dropped_by(bus, weather_stored(location), redis_client, pattern)


async def test_a_small_answer_is_never_compressed(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    symbol = market.unique_symbol("Z")
    await market.stock(symbol)
    await market.bars(symbol, [(date(2024, 3, 1), "1", "1", "1", "1", "1")])
    params = {"symbol": symbol, "start": "2024-03-01", "end": "2024-03-02"}
    first, identity = await _fetch(api, "/api/stocks/prices", params, "gzip, br")
    assert len(identity) < 1024 and first.headers["x-cache"] == "miss"

    async def hit() -> bool:
        response, _ = await _fetch(api, "/api/stocks/prices", params, "gzip, br")
        return response.headers["x-cache"] == "hit"

    await wait_until(hit, timeout=5, interval=0.05, what="the small body cached")
    response, raw = await _fetch(api, "/api/stocks/prices", params, "gzip, br")
    assert "content-encoding" not in response.headers and raw == identity
