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

Every body of 1 KiB or more is also stored compressed (gzip at `key|gzip`,
brotli at `key|br`, `content_coding`), made once in a worker thread after the
identity body was stored and served to every later request that accepts it: a
megabyte of JSON gzips in 20-45 ms, far more than a cached answer may cost,
so nothing is compressed on a request's path. A client that sends no
`Accept-Encoding` gets the identity bytes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import Response
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.background import BackgroundTask

from ticktide_common.logging import get_logger
from ticktide_gateway.content_coding import (
    CODINGS,
    IDENTITY,
    REFINED_MAX_BYTES,
    brotli_refined,
    choose_coding,
    encode,
)

__all__ = [
    "JSON",
    "MIN_CODED_BYTES",
    "cached_json",
    "coded_forms",
    "coded_key",
    "coded_response",
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


def coded_key(key: str, coding: str) -> str:
    """Where the form of the body at `key` in `coding` is stored in Redis."""
    return key if coding == IDENTITY else f"{key}|{coding}"


# Smaller bodies are stored and served as they are: a few hundred bytes saved
# are not worth a second key and a compression.
MIN_CODED_BYTES = 1024


def coded_forms(body: bytes) -> list[tuple[str, bytes]]:
    """`body` in every stored coding (`gzip_bytes`, `brotli_bytes`), run in a worker
    thread: zlib and brotli release the GIL."""
    return [(coding, encode(body, coding)) for coding in CODINGS]


class LocalBodies:
    """An in-process LRU of bodies by (versioned key, content coding), bounded by
    total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, coding: str = IDENTITY) -> bytes | None:
        body = self._bodies.get((key, coding))
        if body is not None:
            self._bodies.move_to_end((key, coding))
        return body

    def put(self, key: str, body: bytes, coding: str = IDENTITY) -> None:
        if len(body) > self.max_bytes // 4:
            return
        old = self._bodies.pop((key, coding), None)
        if old is not None:
            self._bytes -= len(old)
        self._bodies[(key, coding)] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, evicted = self._bodies.popitem(last=False)
            self._bytes -= len(evicted)


def _stored(value: bytes | str | None) -> bytes | None:
    """A value read from Redis as bytes (the cache's client answers bytes)."""
    return value.encode() if isinstance(value, str) else value


# One round trip whichever form is stored, and never the identity body when the
# coded one is there (a megabyte against ~150 KB).
_GET_CODED = """
local coded = redis.call('GET', KEYS[1])
if coded then return {1, coded} end
return {0, redis.call('GET', KEYS[2])}
"""


class ResponseCache:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int, local_bytes: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.local = LocalBodies(local_bytes) if local_bytes > 0 else None
        self._get_coded = redis.register_script(_GET_CODED)
        # At most one compression at a time in this process (see `store_coded_forms`),
        # and apart from it at most one refinement (see `refine_brotli`).
        self._compressing = asyncio.Semaphore(1)
        self._refining = asyncio.Semaphore(1)

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
        body = _stored(value)
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

    async def get_coded(self, key: str, coding: str) -> tuple[bytes, str] | None:
        """The body at `key` in `coding` if that form is stored, else in identity
        (with "identity"), else None. This process's memory first, then Redis in one
        round trip; Redis trouble is a miss."""
        local = self.local
        if local is not None:
            if coding != IDENTITY and (coded := local.get(key, coding)) is not None:
                return coded, coding
            identity = local.get(key)
            if identity is not None:
                if coding == IDENTITY or len(identity) < MIN_CODED_BYTES:
                    return identity, IDENTITY
                # Made by another process, or not yet: ask Redis for the small form.
                try:
                    coded = _stored(await self.redis.get(coded_key(key, coding)))
                except RedisError as exc:
                    log.warning("cache.unavailable", error=repr(exc))
                    coded = None
                if coded is None:
                    return identity, IDENTITY
                local.put(key, coded, coding)
                return coded, coding
        try:
            if coding == IDENTITY:
                found, found_coding = _stored(await self.redis.get(key)), IDENTITY
            else:
                flag, value = await self._get_coded(keys=[coded_key(key, coding), key])
                found, found_coding = _stored(value), coding if flag else IDENTITY
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return None
        if found is None:
            return None
        if local is not None:
            local.put(key, found, found_coding)
        return found, found_coding

    async def coded_hit(
        self, series: Sequence[SeriesKey], key: str, coding: str
    ) -> Response | None:
        """The answer of the body stored at `key`, in `coding` if that form is
        stored (`X-Cache: hit`), or None. When only the identity form was there (a
        compression skipped while another ran) the coded ones are made after it."""
        found = await self.get_coded(key, coding)
        if found is None:
            return None
        body, stored = found
        compress = None
        if stored != coding and len(body) >= MIN_CODED_BYTES:
            compress = BackgroundTask(self.store_coded_forms, series, key, body)
        return coded_response(body, stored, cache_state="hit", background=compress)

    async def put_coded(self, series: Sequence[SeriesKey], key: str, body: bytes) -> None:
        """Store the identity `body` now (see `put_versioned`), then its compressed
        forms (see `store_coded_forms`). Never raises on Redis trouble."""
        await self.put_versioned(series, key, body)
        await self.store_coded_forms(series, key, body)

    async def store_coded_forms(self, series: Sequence[SeriesKey], key: str, body: bytes) -> None:
        """Make the gzip and brotli forms of the identity `body` in a worker thread
        and store them beside it (same TTL, remembered with each series so that an
        invalidation deletes them too). Nothing for bodies under MIN_CODED_BYTES or
        already coded here. When a compression is running already this returns at
        once: a later miss, or a hit that finds only the identity form, compresses
        (so a burst of misses never queues megabytes of compression)."""
        if len(body) < MIN_CODED_BYTES:
            return
        local = self.local
        if local is not None and all(local.get(key, c) is not None for c in CODINGS):
            return
        if self._compressing.locked():
            log.debug("cache.compression_skipped", key=key, bytes=len(body))
            return
        async with self._compressing:
            forms = await asyncio.to_thread(coded_forms, body)
        if local is not None:
            for coding, coded in forms:
                local.put(key, coded, coding)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for coding, coded in forms:
                    pipe.set(coded_key(key, coding), coded, ex=self.ttl_seconds)
                for one in series:
                    pipe.sadd(one.keys_key(self.prefix), *(coded_key(key, c) for c, _ in forms))
                    pipe.expire(one.keys_key(self.prefix), self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))
            return
        await self.refine_brotli(key, body, dict(forms)["br"])

    async def refine_brotli(self, key: str, body: bytes, first: bytes) -> None:
        """Replace the stored brotli form `first` of the identity `body` at `key`
        by its refined form (`brotli_refined`, same bytes once decoded) when that
        is smaller, made in a worker thread, for bodies of at most
        REFINED_MAX_BYTES. Only over a form still stored (SET XX): a body
        invalidated meanwhile stays deleted. When another refinement is running
        this returns at once (the body keeps its first form)."""
        if len(body) > REFINED_MAX_BYTES:
            return
        if self._refining.locked():
            log.debug("cache.refinement_skipped", key=key, bytes=len(body))
            return
        async with self._refining:
            refined = await asyncio.to_thread(brotli_refined, body)
        if len(refined) >= len(first):
            return  # small bodies: the larger window's header outweighs the gain
        try:
            stored = await self.redis.set(
                coded_key(key, "br"), refined, ex=self.ttl_seconds, xx=True
            )
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))
            return
        if stored and self.local is not None and self.local.get(key, "br") is not None:
            self.local.put(key, refined, "br")

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


def coded_response(
    body: bytes, coding: str, *, cache_state: str, background: BackgroundTask | None = None
) -> Response:
    """A JSON answer of stored bytes in `coding`: `Content-Encoding` unless identity,
    always `Vary: Accept-Encoding` (the same URL answers differently by that header),
    `X-Cache: <cache_state>` ("hit" or "miss")."""
    headers = {"Vary": "Accept-Encoding", "X-Cache": cache_state}
    if coding != IDENTITY:
        headers["Content-Encoding"] = coding
    return Response(body, media_type=JSON, headers=headers, background=background)


async def cached_json(
    cache: ResponseCache,
    endpoint: str,
    series: Sequence[SeriesKey],
    parts: Sequence[datetime | int | str | None],
    build: Callable[[], Awaitable[bytes]],
    *,
    accept_encoding: str | None,
) -> Response:
    """`X-Cache: hit` with the stored body of (endpoint, series at their current
    versions, parts) in the best stored coding `accept_encoding` takes; otherwise
    `build()`'s body in identity, `X-Cache: miss`, stored (and then compressed)
    after the answer is sent. A `build` that raises (404, 422) stores nothing.
    Redis away: built every time."""
    coding = choose_coding(accept_encoding)
    versions = await cache.versions(series)
    key = None
    if versions is not None:
        key = versioned_key(cache.prefix, endpoint, series, versions, *parts)
        hit = await cache.coded_hit(series, key, coding)
        if hit is not None:
            return hit
    body = await build()
    store = BackgroundTask(cache.put_coded, series, key, body) if key is not None else None
    return coded_response(body, IDENTITY, cache_state="miss", background=store)
