"""The cache of crypto price pieces (see `price_pieces`): Redis, and the most
recently used pieces in this process's memory.

Each piece has its own version counter in Redis, incremented by every stored
event whose candles fall in it (`invalidate_stored`); a piece body is keyed by
the version it was read at, so a piece read before a write committed and
stored after its invalidation is stored under a key nobody asks for any more,
and the pieces a stored event does not touch keep their entries. Redis trouble
degrades to reading PostgreSQL; it never fails a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ticktide_common.logging import get_logger
from ticktide_gateway.cache import LocalBodies
from ticktide_gateway.crypto.price_pieces import (
    Piece,
    PriceShape,
    piece_label,
    pieces_covering,
)

__all__ = ["PieceCache", "invalidate_stored", "piece_key", "piece_version_key"]

log = get_logger(__name__)
_BEFORE_LAST = datetime.max.replace(tzinfo=UTC) - timedelta(seconds=1)
SHAPES: tuple[PriceShape, ...] = ("rows", "columns")


def piece_version_key(prefix: str, symbol: str, interval: str, start: datetime) -> str:
    return f"{prefix}gateway:piece-version:{symbol}:{interval}:{piece_label(interval, start)}"


def piece_key(
    prefix: str, symbol: str, interval: str, start: datetime, version: int, shape: PriceShape
) -> str:
    label = piece_label(interval, start)
    return f"{prefix}gateway:piece:{symbol}:{interval}:{label}:v{version}:{shape}"


async def invalidate_stored(
    redis: Redis,
    prefix: str,
    symbol: str,
    interval: str,
    first_t: datetime | None,
    last_t: datetime | None,
) -> int:
    """A batch with open times in [first_t, last_t] was stored: the pieces holding
    them get new versions and their old bodies are deleted. Returns how many
    pieces that was. Raises on Redis failure (the stored event is retried)."""
    if first_t is None or last_t is None:
        return 0
    # last_t is inclusive: a candle at a piece's first hour is in that piece.
    starts = pieces_covering(interval, first_t, min(last_t, _BEFORE_LAST) + timedelta(seconds=1))
    version_keys = [piece_version_key(prefix, symbol, interval, s) for s in starts]
    async with redis.pipeline(transaction=True) as pipe:
        for key in version_keys:
            pipe.incr(key)
        versions = await pipe.execute()
    stale = [
        piece_key(prefix, symbol, interval, start, int(version) - 1, shape)
        for start, version in zip(starts, versions, strict=True)
        for shape in SHAPES
    ]
    await redis.unlink(*stale)
    return len(starts)


class PieceCache:
    """Pieces by (series, piece start, version, shape): memory first, then Redis."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int, local_bytes: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.local = LocalBodies(local_bytes) if local_bytes > 0 else None

    async def versions(
        self, symbol: str, interval: str, starts: Sequence[datetime]
    ) -> list[int] | None:
        """The pieces' current versions (0 before any store); None if Redis fails."""
        try:
            raw = await self.redis.mget(
                [piece_version_key(self.prefix, symbol, interval, s) for s in starts]
            )
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return None
        return [int(v) if v is not None else 0 for v in raw]

    def keys(
        self,
        symbol: str,
        interval: str,
        shape: PriceShape,
        starts: Sequence[datetime],
        versions: Sequence[int],
    ) -> list[str]:
        return [
            piece_key(self.prefix, symbol, interval, start, version, shape)
            for start, version in zip(starts, versions, strict=True)
        ]

    async def get(self, keys: Sequence[str]) -> list[Piece | None]:
        """The pieces stored under `keys` (None where none is)."""
        found: list[Piece | None] = [None] * len(keys)
        wanted: list[int] = []
        for index, key in enumerate(keys):
            data = self.local.get(key) if self.local is not None else None
            if data is None:
                wanted.append(index)
            else:
                found[index] = Piece.from_bytes(data)
        if not wanted:
            return found
        try:
            values = await self.redis.mget([keys[i] for i in wanted])
        except RedisError as exc:
            log.warning("cache.unavailable", error=repr(exc))
            return found
        for index, value in zip(wanted, values, strict=True):
            if value is None:
                continue
            data = value.encode() if isinstance(value, str) else value
            try:
                found[index] = Piece.from_bytes(data)
            except ValueError:
                log.warning("cache.bad_piece", key=keys[index])
                continue
            if self.local is not None:
                self.local.put(keys[index], data)
        return found

    async def put(self, pieces: Sequence[tuple[str, Piece]]) -> None:
        """Store pieces read from PostgreSQL under their versioned keys."""
        if not pieces:
            return
        encoded = [(key, piece.to_bytes()) for key, piece in pieces]
        if self.local is not None:
            for key, data in encoded:
                self.local.put(key, data)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, data in encoded:
                    pipe.set(key, data, ex=self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cache.store_failed", error=repr(exc))
