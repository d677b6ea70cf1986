"""The gateway's Redis cache of serialized response bodies.

A cached body depends on one or more *series* (`SeriesKey`): a crypto series
(symbol and interval), a stock, a weather location, or "every stock" for the
latest-prices listing. Each series has a version counter, which its stored
event increments, and bodies are keyed by every parameter of the query plus the
versions they were read at: a request that read the old version before a write
committed stores its body under a key nobody asks for any more, so a stale body
never survives an invalidation. A per-series set of keys lets the invalidation
delete the old bodies at once rather than leave them to their TTL. Redis
trouble degrades to a miss; it never fails a request.

Each gateway process also keeps the most recently used bodies in memory under
the same versioned keys (bounded in bytes): a hit then costs one small GET of
the version instead of moving a megabyte out of Redis, and it is exactly as
fresh, because the version still comes from Redis on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import Response
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.background import BackgroundTask

from ticktide_common.logging import get_logger

__all__ = [
    "JSON",
    "cached_json",
    "ResponseCache",
    "LocalBodies",
    "SeriesKey",
    "crypto_series",
    "stock_series",
    "location_series",
    "LATEST_STOCKS",
    "prices_key",
    "versioned_key",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class SeriesKey:
    """What cached bodies depend on: `kind` names the family ("prices" for crypto,
    "stocks", "stocks-latest", "weather"), `name` the member ("BTCUSDT:1h",
    "AAPL", "Helsinki")."""

    kind: str
    name: str

    def version_key(self, prefix: str) -> str:
        return f"{prefix}gateway:{self.kind}-version:{self.name}"

    def keys_key(self, prefix: str) -> str:
        return f"{prefix}gateway:{self.kind}-keys:{self.name}"


def crypto_series(symbol: str, interval: str) -> SeriesKey:
    return SeriesKey("prices", f"{symbol}:{interval}")


def stock_series(symbol: str) -> SeriesKey:
    return SeriesKey("stocks", symbol)


def location_series(location: str) -> SeriesKey:
    """By the configured (canonical) name, as the stored events carry it."""
    return SeriesKey("weather", location)


# What `/api/stocks/latest` reads: every stock; any stock's stored event drops it.
LATEST_STOCKS = SeriesKey("stocks-latest", "all")


def _part(value: datetime | int | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def prices_key(
    prefix: str,
    symbol: str,
    interval: str,
    version: int,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> str:
    """Absent parameters stay absent in the key: "until now" changes only when a
    candle is stored, and that bumps the version."""
    return (
        f"{prefix}gateway:prices:{symbol}:{interval}:v{version}:"
        f"{_part(start)}:{_part(end)}:{_part(limit)}"
    )


def versioned_key(
    prefix: str,
    endpoint: str,
    series: Sequence[SeriesKey],
    versions: Sequence[int],
    *parts: datetime | int | str | None,
) -> str:
    """The key of one endpoint's body: the series it reads at their versions, then
    every parameter of the query (absent ones as "-")."""
    read = ",".join(f"{s.name}@v{v}" for s, v in zip(series, versions, strict=True))
    return f"{prefix}gateway:{endpoint}:{read}:" + ":".join(_part(p) for p in parts)


class LocalBodies:
    """An in-process LRU of bodies by versioned key, bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return
        old = self._bodies.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._bodies[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, evicted = self._bodies.popitem(last=False)
            self._bytes -= len(evicted)


class ResponseCache:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int, local_bytes: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.local = LocalBodies(local_bytes) if local_bytes > 0 else None

    def version_key(self, symbol: str, interval: str) -> str:
        return crypto_series(symbol, interval).version_key(self.prefix)

    @property
    def symbols_key(self) -> str:
        return f"{self.prefix}gateway:symbols"

    async def versions(self, series: Sequence[SeriesKey]) -> list[int] | None:
        """The series' current versions (0 before any store); None if Redis fails."""
        try:
            raw = await self.redis.mget([s.version_key(self.prefix) for s in series])
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return None
        return [int(v) if v is not None else 0 for v in raw]

    async def series_version(self, symbol: str, interval: str) -> int | None:
        """A crypto series' current version (0 before any store); None if Redis fails."""
        found = await self.versions([crypto_series(symbol, interval)])
        return found[0] if found is not None else None

    async def get(self, key: str) -> bytes | None:
        return await self._get(key, local=False)

    async def get_versioned(self, key: str) -> bytes | None:
        """A versioned body: from this process's memory, else from Redis."""
        return await self._get(key, local=True)

    async def get_prices(self, key: str) -> bytes | None:
        return await self._get(key, local=True)

    async def _get(self, key: str, *, local: bool) -> bytes | None:
        if local and self.local is not None and (body := self.local.get(key)) is not None:
            return body
        try:
            value = await self.redis.get(key)
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return None
        body = value.encode() if isinstance(value, str) else value
        if local and body is not None and self.local is not None:
            self.local.put(key, body)
        return body

    async def put(self, key: str, body: bytes) -> None:
        try:
            await self.redis.set(key, body, ex=self.ttl_seconds)
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))

    def series_keys_key(self, symbol: str, interval: str) -> str:
        return crypto_series(symbol, interval).keys_key(self.prefix)

    async def put_prices(self, symbol: str, interval: str, key: str, body: bytes) -> None:
        """Store a crypto prices body (see `put_versioned`)."""
        await self.put_versioned([crypto_series(symbol, interval)], key, body)

    async def put_versioned(self, series: Sequence[SeriesKey], key: str, body: bytes) -> None:
        """Store a versioned body and remember its key with each series it read, so
        that an invalidation frees the memory at once instead of after the TTL."""
        if self.local is not None:
            self.local.put(key, body)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(key, body, ex=self.ttl_seconds)
                for one in series:
                    pipe.sadd(one.keys_key(self.prefix), key)
                    pipe.expire(one.keys_key(self.prefix), self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))

    async def invalidate_series(self, symbol: str, interval: str) -> None:
        """A crypto series changed: its bodies and the symbols listing go."""
        await self.invalidate([crypto_series(symbol, interval)], also_delete=[self.symbols_key])

    async def invalidate(
        self, series: Sequence[SeriesKey], also_delete: Sequence[str] = ()
    ) -> None:
        """Bump each series' version (what makes old bodies unreachable), then delete
        them and `also_delete`. Raises on Redis failure so the stored event is retried."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for one in series:
                pipe.incr(one.version_key(self.prefix))
            if also_delete:
                pipe.delete(*also_delete)
            for one in series:
                pipe.smembers(one.keys_key(self.prefix))
                pipe.delete(one.keys_key(self.prefix))
            results = await pipe.execute()
        members = results[len(series) + (1 if also_delete else 0) :: 2]
        stale = {key for found in members for key in found}
        if stale:
            await self.redis.unlink(*stale)


JSON = "application/json"


async def cached_json(
    cache: ResponseCache,
    endpoint: str,
    series: Sequence[SeriesKey],
    parts: Sequence[datetime | int | str | None],
    build: Callable[[], Awaitable[bytes]],
) -> Response:
    """`X-Cache: hit` with the stored body of (endpoint, series at their current
    versions, parts); otherwise `build()`'s body, `X-Cache: miss`. A `build` that
    raises (404, 422) stores nothing. Redis away: built every time."""
    versions = await cache.versions(series)
    key = None
    if versions is not None:
        key = versioned_key(cache.prefix, endpoint, series, versions, *parts)
        cached = await cache.get_versioned(key)
        if cached is not None:
            return Response(cached, media_type=JSON, headers={"X-Cache": "hit"})
    body = await build()
    store = BackgroundTask(cache.put_versioned, series, key, body) if key is not None else None
    return Response(body, media_type=JSON, headers={"X-Cache": "miss"}, background=store)
