"""`ResponseCache`'s compressed forms against the run's real Redis: stored beside
the identity body with the same TTL and remembered with the series, read in the
coding asked (or identity when that form is not stored), deleted by the series'
invalidation, at most one compression at a time, and Redis trouble never raising."""

from __future__ import annotations

import asyncio
import json
import uuid

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import free_port, wait_until
from ticktide_gateway.cache import (
    MIN_CODED_BYTES,
    ResponseCache,
    coded_key,
    stock_series,
    versioned_key,
)
from ticktide_gateway.content_coding import decode

TTL = 120


def _body(bars: int) -> bytes:
    rows = [{"date": f"2024-01-{1 + i % 28:02}", "c": i * 0.25, "v": i * 1000} for i in range(bars)]
    return json.dumps({"symbol": "X", "prices": rows}).encode()


def _cache(redis: Redis, settings: RedisSettings, local_bytes: int = 0) -> ResponseCache:
    """A cache of its own prefix under the run's, so that its keys can be counted."""
    prefix = f"{settings.ticktide_redis_prefix}coded-{uuid.uuid4().hex[:8]}:"
    return ResponseCache(redis, prefix, TTL, local_bytes=local_bytes)


async def _keys(redis: Redis, cache: ResponseCache) -> set[str]:
    return {k.decode() async for k in redis.scan_iter(match=f"{cache.prefix}gateway:body:*")}


def _key(cache: ResponseCache, name: str) -> str:
    return versioned_key(cache.prefix, "body", [stock_series(name)], [0], name)


async def test_put_coded_stores_every_form_and_get_coded_serves_the_one_asked(
    redis_client: Redis, settings: RedisSettings
) -> None:
    cache = _cache(redis_client, settings)
    series = [stock_series("A")]
    key, body = _key(cache, "A"), _body(200)
    await cache.put_coded(series, key, body)

    stored = {key, coded_key(key, "gzip"), coded_key(key, "br")}
    assert await _keys(redis_client, cache) == stored
    for name in stored:
        assert 0 < await redis_client.ttl(name) <= TTL
    members = await redis_client.smembers(series[0].keys_key(cache.prefix))
    assert {m.decode() for m in members} == stored

    reader = ResponseCache(redis_client, cache.prefix, TTL)  # another process: no memory
    for coding in ("br", "gzip", "identity"):
        found = await reader.get_coded(key, coding)
        assert found is not None and found[1] == coding
        assert decode(found[0], coding) == body
    assert len((await reader.get_coded(key, "br") or (b"", ""))[0]) < len(body) // 4
    assert await reader.get_coded(key + "-unknown", "br") is None
    assert await reader.get_coded(key + "-unknown", "identity") is None


async def test_small_bodies_are_stored_only_as_they_are(
    redis_client: Redis, settings: RedisSettings
) -> None:
    cache = _cache(redis_client, settings, local_bytes=1 << 20)
    key, body = _key(cache, "S"), b'{"symbol":"S","prices":[]}'
    assert len(body) < MIN_CODED_BYTES
    await cache.put_coded([stock_series("S")], key, body)
    assert await _keys(redis_client, cache) == {key}
    assert await cache.get_coded(key, "br") == (body, "identity")
    cache.local = None
    assert await cache.get_coded(key, "gzip") == (body, "identity")


async def test_invalidation_deletes_the_coded_forms_too(
    redis_client: Redis, settings: RedisSettings
) -> None:
    cache = _cache(redis_client, settings)
    kept, dropped = [stock_series("KEEP")], [stock_series("DROP")]
    await cache.put_coded(kept, _key(cache, "KEEP"), _body(100))
    await cache.put_coded(dropped, _key(cache, "DROP"), _body(100))
    assert len(await _keys(redis_client, cache)) == 6
    await cache.invalidate(dropped)
    left = await _keys(redis_client, cache)
    assert left == {coded_key(_key(cache, "KEEP"), c) for c in ("identity", "gzip", "br")}


async def test_one_compression_at_a_time_and_a_later_hit_compresses(
    redis_client: Redis, settings: RedisSettings
) -> None:
    cache = _cache(redis_client, settings, local_bytes=256 << 20)
    big, second = _key(cache, "BIG"), _key(cache, "SECOND")
    first = asyncio.create_task(cache.put_coded([stock_series("BIG")], big, _body(100_000)))

    async def compressing() -> bool:
        return cache._compressing.locked()

    await wait_until(compressing, timeout=5, interval=0.001, what="the first compression")
    body = _body(300)
    await cache.put_coded([stock_series("SECOND")], second, body)  # skipped: one is running
    assert await cache.get_coded(second, "br") == (body, "identity")
    await first
    assert {coded_key(big, "br"), second} <= await _keys(redis_client, cache)
    assert coded_key(second, "br") not in await _keys(redis_client, cache)

    await cache.store_coded_forms([stock_series("SECOND")], second, body)
    found = await cache.get_coded(second, "br")
    assert found is not None and found[1] == "br" and decode(found[0], "br") == body
    assert coded_key(second, "gzip") in await _keys(redis_client, cache)


async def test_a_process_holding_only_identity_takes_the_coded_form_from_redis(
    redis_client: Redis, settings: RedisSettings
) -> None:
    here = _cache(redis_client, settings, local_bytes=1 << 20)
    there = ResponseCache(redis_client, here.prefix, TTL)
    key, body = _key(here, "SHARED"), _body(100)
    await here.put_versioned([stock_series("SHARED")], key, body)  # its compression skipped
    assert await here.get_coded(key, "gzip") == (body, "identity")
    await there.store_coded_forms([stock_series("SHARED")], key, body)
    found = await here.get_coded(key, "gzip")
    assert found is not None and found[1] == "gzip" and decode(found[0], "gzip") == body
    assert here.local is not None and here.local.get(key, "gzip") == found[0]


async def test_redis_away_is_a_miss_and_storing_never_raises() -> None:
    # No retries: each refused connection fails at once (the default retries back off
    # for seconds, which changes nothing here).
    gone = Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    cache = ResponseCache(gone, "gone:", TTL, local_bytes=1 << 20)
    try:
        assert await cache.versions([stock_series("X")]) is None
        assert await cache.get_coded("gone:k", "br") is None
        await cache.put_coded([stock_series("X")], "gone:k", _body(100))
        # What this process made is still served from its memory.
        found = await cache.get_coded("gone:k", "br")
        assert found is not None and found[1] == "br"
    finally:
        await gone.aclose()
