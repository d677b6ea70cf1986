"""Reading a prices window as pieces: which pieces it needs, each from the piece
cache when it holds that piece at its current version, the others from
PostgreSQL in one range scan; and the key of the assembled answer.

A window that would need more than `MAX_PIECES` pieces (a `limit` over a range
of decades, a sparse series) is first narrowed to the candles that exist; one
still that wide is read from PostgreSQL without caching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.price_cache import PieceCache
from ticktide_gateway.crypto.price_pieces import (
    Piece,
    PriceShape,
    next_piece,
    piece_count,
    piece_label,
    piece_of,
    pieces_covering,
)
from ticktide_gateway.crypto.schemas import INTERVAL_STEPS, PricesQuery, PriceWindow
from ticktide_gateway.validation import EARLIEST

__all__ = ["MAX_PIECES", "PiecesRead", "PriceReader", "body_key"]

MAX_PIECES = 120  # ten years of months
_SECOND = timedelta(seconds=1)


@dataclass
class PiecesRead:
    pieces: list[Piece]
    fresh: list[tuple[str, Piece]] = field(default_factory=list)  # read from PostgreSQL

    @property
    def count(self) -> int:
        return sum(piece.count for piece in self.pieces)


class PriceReader:
    """The pieces of one series in one shape."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        cache: PieceCache,
        crypto_id: int,
        symbol: str,
        interval: str,
        shape: PriceShape,
    ) -> None:
        self.pool, self.cache = pool, cache
        self.crypto_id, self.symbol, self.interval, self.shape = crypto_id, symbol, interval, shape
        self.step = INTERVAL_STEPS[interval]

    async def bounded_starts(self, window: PriceWindow, lo: datetime) -> list[datetime]:
        """The piece starts of [lo, window.end), narrowed to the candles that exist
        when that is more than MAX_PIECES."""
        if piece_count(self.interval, lo, window.end) <= MAX_PIECES:
            return pieces_covering(self.interval, lo, window.end)
        newest = window.mode == "latest"
        edge = await repository.window_edge(
            self.pool,
            self.crypto_id,
            self.interval,
            lo,
            window.end,
            window.limit,
            newest=newest,
        )
        if edge is None:
            return []
        first, end = (
            (edge, window.end) if newest else (lo, min(edge, window.end - _SECOND) + _SECOND)
        )
        if piece_count(self.interval, first, end) > MAX_PIECES:
            # Still that wide (a sparse series): its first and last pieces stand
            # for the span, read whole from PostgreSQL without the cache.
            return [piece_of(self.interval, first), piece_of(self.interval, end - _SECOND)]
        return pieces_covering(self.interval, first, end)

    def cacheable(self, starts: Sequence[datetime]) -> bool:
        """Whether `starts` lists every piece (a span, see bounded_starts, does not)."""
        return (
            0
            < len(starts)
            == piece_count(self.interval, starts[0], next_piece(self.interval, starts[-1]))
        )

    async def versions(self, starts: Sequence[datetime]) -> list[int] | None:
        """The pieces' versions, or None: read them without the cache (too many,
        or Redis unavailable)."""
        if not self.cacheable(starts):
            return None
        return await self.cache.versions(self.symbol, self.interval, starts)

    async def oldest_of_latest(self, window: PriceWindow) -> datetime | None:
        """The open time of the oldest of the `limit` newest candles before `end`."""
        return await repository.window_edge(
            self.pool,
            self.crypto_id,
            self.interval,
            EARLIEST,
            window.end,
            window.limit,
            newest=True,
        )

    async def read(self, starts: Sequence[datetime], versions: Sequence[int] | None) -> PiecesRead:
        """The pieces at `starts`; with `versions` (their current versions) from
        the cache where it holds them, and those read from PostgreSQL listed as
        `fresh` for the caller to store."""
        if not starts:
            return PiecesRead([])
        if versions is None:
            read = await self._from_database(starts[0], next_piece(self.interval, starts[-1]))
            return PiecesRead(list(read.values()))  # the pieces that hold candles, in order
        keys = self.cache.keys(self.symbol, self.interval, self.shape, starts, versions)
        found = await self.cache.get(keys)
        missing = [index for index, piece in enumerate(found) if piece is None]
        fresh: list[tuple[str, Piece]] = []
        if missing:
            read = await self._from_database(
                starts[missing[0]], next_piece(self.interval, starts[missing[-1]])
            )
            for index in missing:
                piece = read.get(starts[index]) or Piece.empty(self.shape)
                found[index] = piece
                fresh.append((keys[index], piece))
        return PiecesRead([piece for piece in found if piece is not None], fresh)

    async def _from_database(self, start: datetime, end: datetime) -> dict[datetime, Piece]:
        return await repository.price_pieces(
            self.pool, self.crypto_id, self.interval, self.shape, start, end
        )


def _key_part(value: datetime | int | None) -> str:
    if value is None:
        return "-"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def body_key(
    prefix: str,
    query: PricesQuery,
    end: datetime | None,
    versions: Sequence[int],
    starts: Sequence[datetime],
) -> str:
    """The key of an assembled answer: every parameter of the query, and the
    pieces it was assembled from at their versions."""
    read = ".".join(str(v) for v in versions)
    return (
        f"{prefix}gateway:prices:{query.symbol}:{query.interval}:{query.format}:"
        f"{_key_part(query.start)}:{_key_part(end)}:{_key_part(query.limit)}:"
        f"{piece_label(query.interval, starts[0])}+{len(starts)}@{read}"
    )
