"""Reading a prices window as pieces: which pieces it needs, each from the first
tier that holds it, and the key of the assembled answer. The tiers:

1. the piece cache (this process's memory, then Redis), at the piece's current
   Redis version;
2. PostgreSQL's rendered pieces (`crypto_price_pieces`): one primary-key lookup
   for all the pieces the cache lacked;
3. the aggregate over `crypto_prices` (repository.price_pieces) for the pieces
   nobody rendered since their candles changed, one range scan per run of
   consecutive ones, at the versions tier 2's lookup read before it.
   They are listed in `PiecesRead.unrendered`, and `write_back` stores them in
   tier 2 (the route calls it after the answer is sent, beside storing the
   `fresh` pieces in tier 1).

Why a write-back never lands over newer candles. The writer, in the
transaction that stores candles, increments the version of every piece they
fall in and clears its bodies (ticktide_writer.repository), holding those rows'
locks until it commits. A piece's version v is read (tier 2's lookup) before
the statement that renders it takes its snapshot; its write-back updates the
row only `WHERE version = v`. A writer that committed before the version was
read is in v and in the snapshot. A writer that committed between the two is
in the snapshot but not in v: the row's version is above v, and the write-back
(needlessly) refuses. If a writer's candles are not in the snapshot, the writer
either committed afterwards, so the row's version is above v by the time the
write-back runs,
or it has not committed yet and holds the row's lock: the write-back's ON
CONFLICT waits for the lock, then evaluates the WHERE on the row the writer
committed (version above v), and writes nothing. A piece no writer has touched
has no row (version 0): its write-back inserts it at version 0, and a writer
that inserts it meanwhile does so at version 1 (the insert conflicts and the
WHERE refuses). Versions only grow, so an old v never matches again. Hence a
non-NULL body is always the rendering of the candles now committed.

A window that would need more than `MAX_PIECES` pieces (a `limit` over a range
of decades, a sparse series) is first narrowed to the candles that exist; one
still that wide is read from PostgreSQL by the aggregate alone, uncached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from ticktide_common.logging import get_logger
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

log = get_logger(__name__)

MAX_PIECES = 120  # ten years of months
_SECOND = timedelta(seconds=1)
# What a write-back may meet when PostgreSQL is away or refuses; never a request's failure.
_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@dataclass
class PiecesRead:
    pieces: list[Piece]
    fresh: list[tuple[str, Piece]] = field(default_factory=list)  # read from PostgreSQL
    # Rendered by the aggregate: (piece start, version rendered at, piece), for write_back.
    unrendered: list[tuple[datetime, int, Piece]] = field(default_factory=list)

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
        """The pieces at `starts`; with `versions` (their current Redis versions)
        from the cache where it holds them, the others from PostgreSQL (rendered,
        or else aggregated and listed as `unrendered`), those listed as `fresh`
        for the caller to cache. A span (not `cacheable`) is aggregated whole."""
        if not starts:
            return PiecesRead([])
        if not self.cacheable(starts):
            read = await self._from_database(starts[0], next_piece(self.interval, starts[-1]))
            return PiecesRead(list(read.values()))  # the pieces that hold candles, in order
        keys = (
            self.cache.keys(self.symbol, self.interval, self.shape, starts, versions)
            if versions is not None
            else None  # Redis unavailable: PostgreSQL's tiers only
        )
        found: list[Piece | None] = (
            await self.cache.get(keys) if keys is not None else [None] * len(starts)
        )
        missing = [index for index, piece in enumerate(found) if piece is None]
        fresh: list[tuple[str, Piece]] = []
        unrendered: list[tuple[datetime, int, Piece]] = []
        if missing:
            read, unrendered = await self._from_postgresql([starts[i] for i in missing])
            for index in missing:
                piece = read[starts[index]]
                found[index] = piece
                if keys is not None:
                    fresh.append((keys[index], piece))
        return PiecesRead([piece for piece in found if piece is not None], fresh, unrendered)

    async def write_back(self, read: PiecesRead) -> None:
        """Store the pieces `read` rendered into PostgreSQL's rendered pieces, each
        only if no write touched it since (see the module's docstring). Errors
        are logged: a later read renders the piece again."""
        if not read.unrendered:
            return
        try:
            landed = await repository.write_back_pieces(
                self.pool,
                self.crypto_id,
                self.interval,
                self.shape,
                [(start, version, piece.to_bytes()) for start, version, piece in read.unrendered],
            )
        except _DATABASE_ERRORS as exc:
            log.warning("prices.write_back_failed", symbol=self.symbol, error=repr(exc))
            return
        if landed < len(read.unrendered):
            log.info(
                "prices.write_back_refused",
                symbol=self.symbol,
                interval=self.interval,
                refused=len(read.unrendered) - landed,
            )

    async def _from_postgresql(
        self, starts: Sequence[datetime]
    ) -> tuple[dict[datetime, Piece], list[tuple[datetime, int, Piece]]]:
        """Every piece at `starts` (empty where no candles), rendered or aggregated;
        and those aggregated, at the versions they were rendered at."""
        stored = await repository.rendered_pieces(
            self.pool, self.crypto_id, self.interval, self.shape, starts
        )
        pieces: dict[datetime, Piece] = {}
        for start, (_, body) in stored.items():
            if body is None:
                continue
            try:
                pieces[start] = Piece.from_bytes(body)
            except ValueError:
                log.warning(
                    "prices.bad_rendered_piece",
                    symbol=self.symbol,
                    interval=self.interval,
                    piece=piece_label(self.interval, start),
                )
        wanted = [start for start in starts if start not in pieces]
        if not wanted:
            return pieces, []
        # The versions come from the lookup above, which ran before the aggregate's
        # snapshot (see the module's docstring).
        aggregated = await repository.render_pieces(
            self.pool, self.crypto_id, self.interval, self.shape, self._runs(wanted)
        )
        unrendered = []
        for start in wanted:
            piece = aggregated.get(start) or Piece.empty(self.shape)
            pieces[start] = piece
            version = stored[start][0] if start in stored else 0
            unrendered.append((start, version, piece))
        return pieces, unrendered

    def _runs(self, starts: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
        """[start, end) of each run of consecutive pieces among `starts` (ordered)."""
        runs: list[tuple[datetime, datetime]] = []
        for start in starts:
            end = next_piece(self.interval, start)
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
        return runs

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
