"""The gateway's Redis cache of serialized response bodies.

Prices bodies are keyed by every parameter of the query plus the series'
version counter, which a `CandlesStoredV1` increments: a request that read the
old version before a write committed stores its body under a key nobody asks
for any more, so a stale body never survives an invalidation. A per-series set
of keys lets the invalidation delete the old bodies at once rather than leave
them to their TTL. Redis trouble degrades to a miss; it never fails a request.

Each gateway process also keeps the most recently used bodies in memory under
the same versioned keys (bounded in bytes): a hit then costs one small GET of
the version instead of moving a megabyte out of Redis, and it is exactly as
fresh, because the version still comes from Redis on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ticktide_common.logging import get_logger

__all__ = ["ResponseCache", "LocalBodies", "prices_key"]

log = get_logger(__name__)


def _part(value: datetime | int | None) -> str:
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
        return f"{self.prefix}gateway:prices-version:{symbol}:{interval}"

    @property
    def symbols_key(self) -> str:
        return f"{self.prefix}gateway:symbols"

    async def series_version(self, symbol: str, interval: str) -> int | None:
        """The series' current version (0 before any store); None if Redis fails."""
        try:
            raw = await self.redis.get(self.version_key(symbol, interval))
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return None
        return int(raw) if raw is not None else 0

    async def get(self, key: str) -> bytes | None:
        return await self._get(key, local=False)

    async def get_prices(self, key: str) -> bytes | None:
        """A versioned prices body: from this process's memory, else from Redis."""
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
        return f"{self.prefix}gateway:prices-keys:{symbol}:{interval}"

    async def put_prices(self, symbol: str, interval: str, key: str, body: bytes) -> None:
        """Store a prices body and remember its key with the series, so that an
        invalidation frees the memory at once instead of after the TTL."""
        if self.local is not None:
            self.local.put(key, body)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(key, body, ex=self.ttl_seconds)
                pipe.sadd(self.series_keys_key(symbol, interval), key)
                pipe.expire(self.series_keys_key(symbol, interval), self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))

    async def invalidate_series(self, symbol: str, interval: str) -> None:
        """Bump the series' version (what makes old bodies unreachable), then delete
        them. Raises on Redis failure so the stored event is retried."""
        keys_key = self.series_keys_key(symbol, interval)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.version_key(symbol, interval))
            pipe.delete(self.symbols_key)
            pipe.smembers(keys_key)
            pipe.delete(keys_key)
            results = await pipe.execute()
        stale = list(results[2])
        if stale:
            await self.redis.unlink(*stale)
