"""`/api/crypto/prices` against the real gateway, PostgreSQL, Redis and RabbitMQ."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.messages import CandlesStoredV1
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import wait_until
from ticktide_gateway.settings import GatewaySettings

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hourly(n: int, start: datetime = T0, price: str = "100.00000000"):  # type: ignore[no-untyped-def]
    return [(start + i * HOUR, price, price, price, price, "1.00000000") for i in range(n)]


async def test_values_round_trip_digit_for_digit(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
) -> None:
    provider = [
        (
            T0,
            "42123.45000000",
            "42554.57000000",
            "42261.02000000",
            "42475.23000000",
            "1271.68108000",
        ),
        (T0 + HOUR, "0.00001234", "0.00001299", "0.00001200", "0.00001250", "98765432109.00000000"),
        (
            T0 + 2 * HOUR,
            "69000.01000000",
            "123456.78901234",
            "0.10000000",
            "1.00000000",
            "0.00000001",
        ),
    ]
    await candle_store(db_pool, "DIGITUSDT", "1h", provider)
    response = await api.get(
        "/api/crypto/prices",
        params={
            "symbol": "DIGITUSDT",
            "interval": "1h",
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-02T00:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["symbol"], body["interval"], body["source"]) == ("DIGITUSDT", "1h", "binance")
    assert [c["t"] for c in body["candles"]] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:00:00Z",
        "2024-01-01T02:00:00Z",
    ]
    for candle, (_, *strings) in zip(body["candles"], provider, strict=True):
        values = [candle[k] for k in ("o", "h", "l", "c", "v")]
        assert all(isinstance(v, float) for v in values)
        assert [repr(v) for v in values] == [repr(float(s)) for s in strings]
        assert [Decimal(repr(v)) for v in values] == [Decimal(s) for s in strings]
    assert body["candles"][1]["o"] == 1.234e-05


async def test_ordering_start_inclusive_end_exclusive_and_latest(
    api: httpx.AsyncClient, db_pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    candles = hourly(48)
    await candle_store(db_pool, "ORDERUSDT", "1h", list(reversed(candles)))
    response = await api.get(
        "/api/crypto/prices",
        params={
            "symbol": "orderusdt",
            "interval": "1h",
            "start": "2024-01-01T05:00:00Z",
            "end": "2024-01-01T10:00:00+00:00",
        },
    )
    times = [c["t"] for c in response.json()["candles"]]
    assert times == [f"2024-01-01T{h:02d}:00:00Z" for h in range(5, 10)]

    latest = (
        await api.get(
            "/api/crypto/prices",
            params={
                "symbol": "ORDERUSDT",
                "interval": "1h",
                "end": "2024-01-02T00:00:00Z",
                "limit": 3,
            },
        )
    ).json()
    assert [c["t"] for c in latest["candles"]] == [
        "2024-01-01T21:00:00Z",
        "2024-01-01T22:00:00Z",
        "2024-01-01T23:00:00Z",
    ]

    paged = (
        await api.get(
            "/api/crypto/prices",
            params={
                "symbol": "ORDERUSDT",
                "interval": "1h",
                "start": "2024-01-01T00:00:00Z",
                "limit": 2,
            },
        )
    ).json()
    assert [c["t"] for c in paged["candles"]] == ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]

    default = (await api.get("/api/crypto/prices", params={"symbol": "ORDERUSDT"})).json()
    assert len(default["candles"]) == 48 and default["interval"] == "1h"

    other_interval = (
        await api.get("/api/crypto/prices", params={"symbol": "ORDERUSDT", "interval": "4h"})
    ).json()
    assert other_interval == {
        "symbol": "ORDERUSDT",
        "interval": "4h",
        "source": None,
        "candles": [],
    }


async def test_simulated_rows_are_labelled(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
) -> None:
    await candle_store(db_pool, "MIXUSDT", "1d", [(T0, "1", "1", "1", "1", "1")], source="binance")
    await candle_store(
        db_pool,
        "MIXUSDT",
        "1d",
        [(T0 + timedelta(days=1), "2", "2", "2", "2", "2")],
        source="simulated",
    )
    params = {"symbol": "MIXUSDT", "interval": "1d", "start": "2024-01-01", "end": "2024-01-03"}
    assert (await api.get("/api/crypto/prices", params=params)).json()[
        "source"
    ] == "binance+simulated"
    params["start"] = "2024-01-02"
    assert (await api.get("/api/crypto/prices", params=params)).json()["source"] == "simulated"


async def test_cache_hit_then_invalidated_by_stored_event(
    api: httpx.AsyncClient,
    db_pool,
    candle_store,
    redis_client: Redis,  # type: ignore[no-untyped-def]
    bus: Bus,
    settings: RedisSettings,
) -> None:
    await candle_store(db_pool, "CACHEUSDT", "1h", hourly(10))
    params = {
        "symbol": "CACHEUSDT",
        "interval": "1h",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-02T00:00:00Z",
    }
    first = await api.get("/api/crypto/prices", params=params)
    assert first.headers["x-cache"] == "miss"
    pattern = f"{settings.ticktide_redis_prefix}gateway:prices:CACHEUSDT:1h:*"

    async def identity_keys() -> list[bytes]:  # its compressed forms are at `key|coding`
        return [k async for k in redis_client.scan_iter(match=pattern) if b"|" not in k]

    async def stored() -> bool:  # the body is stored after the response is sent
        return len(await identity_keys()) == 1

    await wait_until(stored, timeout=5, what="cached prices body in Redis")
    keys = await identity_keys()
    assert await redis_client.get(keys[0]) == first.content
    ttl = await redis_client.ttl(keys[0])
    assert 0 < ttl <= GatewaySettings.model_fields["cache_ttl_seconds"].default

    second = await api.get("/api/crypto/prices", params=params)
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content

    # A row stored behind the cache's back is not seen until the stored event arrives.
    await candle_store(db_pool, "CACHEUSDT", "1h", hourly(1, start=T0 + 10 * HOUR))
    assert len((await api.get("/api/crypto/prices", params=params)).json()["candles"]) == 10
    await bus.publish(
        CandlesStoredV1(
            batch_id=uuid.uuid4(),
            symbol="CACHEUSDT",
            interval="1h",
            source="binance",
            first_t=T0 + 10 * HOUR,
            last_t=T0 + 10 * HOUR,
            candles=1,
            rows_changed=1,
        )
    )

    async def new_row_served() -> bool:
        response = await api.get("/api/crypto/prices", params=params)
        return len(json.loads(response.content)["candles"]) == 11

    await wait_until(new_row_served, timeout=10, what="cache invalidation by CandlesStoredV1")

    async def old_body_deleted() -> bool:  # deleted, not left to expire
        return not await redis_client.exists(keys[0])

    # (The new pieces are served first; the series' old bodies go a moment later.)
    await wait_until(old_body_deleted, timeout=5, what="the old body deleted")
    third = await api.get("/api/crypto/prices", params=params)
    assert third.headers["x-cache"] == "hit"
    assert third.json()["candles"][-1]["t"] == "2024-01-01T10:00:00Z"

    # Another series' event leaves this one cached.
    await bus.publish(
        CandlesStoredV1(
            batch_id=uuid.uuid4(),
            symbol="CACHEUSDT",
            interval="4h",
            source="binance",
            first_t=None,
            last_t=None,
            candles=0,
            rows_changed=0,
        )
    )
    version_key = f"{settings.ticktide_redis_prefix}gateway:prices-version:CACHEUSDT:4h"
    await wait_until(lambda: _exists(redis_client, version_key), timeout=10, what="4h version bump")
    assert (await api.get("/api/crypto/prices", params=params)).headers["x-cache"] == "hit"


async def _exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))
