"""User routes under `/api/crypto`: symbols and prices, served from the Redis
cache when it holds the body, from PostgreSQL otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import ValidationError
from starlette.background import BackgroundTask

from ticktide_gateway.auth import GuardedRoute, authenticate, current_principal
from ticktide_gateway.cache import ResponseCache, SeriesKey, coded_response, crypto_series
from ticktide_gateway.content_coding import IDENTITY, choose_coding
from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.bodies import buckets_body, symbols_body
from ticktide_gateway.crypto.price_cache import PieceCache
from ticktide_gateway.crypto.price_pieces import assemble_prices, cut_to_window
from ticktide_gateway.crypto.price_reader import PriceReader, body_key
from ticktide_gateway.crypto.schemas import (
    BUCKET_STEPS,
    BucketsQuery,
    CryptoAggregates,
    CryptoPriceColumns,
    CryptoPrices,
    CryptoSymbols,
    PricesQuery,
    PriceWindow,
    bucket_window,
    resolve_price_window,
)
from ticktide_gateway.deps import (
    CacheDep,
    PiecesDep,
    PoolDep,
    SeriesPathDep,
    SettingsDep,
    SymbolDirectory,
    SymbolsDep,
    UnknownSymbol,
)
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.validation import InvalidQuery, as_utc

router = APIRouter(
    prefix="/api/crypto",
    tags=["crypto"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

JSON = "application/json"

PRICES_EXAMPLES = {
    "rows": {
        "summary": "format=rows (default)",
        "value": {
            "symbol": "BTCUSDT",
            "interval": "1h",
            "source": "binance",
            "candles": [
                {
                    "t": "2024-01-01T00:00:00Z",
                    "o": 42283.58,
                    "h": 42554.57,
                    "l": 42261.02,
                    "c": 42475.23,
                    "v": 1271.68108,
                }
            ],
        },
    },
    "columns": {
        "summary": "format=columns",
        "value": {
            "symbol": "BTCUSDT",
            "interval": "1h",
            "source": "binance",
            "t": [1704067200],
            "o": [42283.58],
            "h": [42554.57],
            "l": [42261.02],
            "c": [42475.23],
            "v": [1271.68108],
        },
    },
}


@router.get(
    "/symbols",
    summary="Active cryptocurrencies and what is stored of each",
    responses={200: {"model": CryptoSymbols}},
)
async def symbols(pool: PoolDep, cache: CacheDep) -> Response:
    cached = await cache.get(cache.symbols_key)
    if cached is not None:
        return Response(cached, media_type=JSON)
    body = symbols_body(await repository.active_symbols(pool))
    await cache.put(cache.symbols_key, body)
    return Response(body, media_type=JSON)


@router.get(
    "/prices",
    summary="OHLCV candles of one series, ordered by open time",
    responses={
        200: {
            "model": CryptoPrices | CryptoPriceColumns,
            "description": (
                "format=rows (default): CryptoPrices; format=columns: CryptoPriceColumns. "
                "Compressed (Content-Encoding br or gzip, Vary: Accept-Encoding) when the "
                "request accepts it and the answer is cached."
            ),
            "content": {JSON: {"examples": PRICES_EXAMPLES}},
        },
        404: {"description": "unknown symbol"},
        422: {"description": "bad interval, date, range, limit or format"},
    },
)
async def prices(
    request: Request,
    query: Annotated[PricesQuery, Query()],
    settings: SettingsDep,
    pool: PoolDep,
    cache: CacheDep,
    pieces: PiecesDep,
    directory: SymbolsDep,
) -> Response:
    """`t` is the bar's open time (UTC); `o h l c v` are JSON numbers equal to the
    provider's decimal strings. `start` inclusive, `end` and `before` exclusive
    (default now; with both, the earlier). Without `start`: the latest `limit`
    (default 1000) candles before `end`. `source` names where the rows came from; "simulated" marks
    generated data. The answer is assembled from the series' monthly (1h) or
    yearly (4h, 1d) pieces, each rendered from PostgreSQL's rows once (and kept
    rendered there) and cached until a stored candle falls in it."""
    planned = request.scope.pop(_MISSED_PLAN_SCOPE_KEY, None)
    if isinstance(planned, tuple) and planned[0] == query:
        plan = planned[1]  # cached_prices planned this request and missed: not again
    else:
        plan = await plan_prices(
            query, settings, pool, cache, pieces, directory, request.headers.get("accept-encoding")
        )
        if plan.key is not None:
            hit = await cache.coded_hit(plan.series, plan.key, plan.coding)
            if hit is not None:
                return hit
    window, reader, key = plan.window, plan.reader, plan.key
    read = await reader.read(plan.starts, plan.versions)
    if window.mode == "latest" and read.count < window.limit:
        # Holes before `end`: the window reaches further back than limit x step.
        # (Not stored whole: its key names only the pieces first looked at.)
        oldest = await reader.oldest_of_latest(window)
        if oldest is not None and oldest < plan.lo:
            starts = await reader.bounded_starts(window, oldest)
            read = await reader.read(starts, await reader.versions(starts))
            key = None
    kept = cut_to_window(
        read.pieces,
        query.format,
        window.start,
        window.end,
        window.limit,
        newest=window.mode == "latest",
    )
    body = assemble_prices(query.symbol, query.interval, query.format, kept)

    async def store() -> None:
        if key is not None:  # first the answer itself: the same request again is a hit
            await cache.put_versioned(plan.series, key, body)
        await pieces.put(read.fresh)
        await reader.write_back(read)  # the pieces it rendered, into PostgreSQL
        if key is not None:
            await cache.store_coded_forms(plan.series, key, body)

    return coded_response(body, IDENTITY, cache_state="miss", background=BackgroundTask(store))


# Where cached_prices leaves the plan of a request it could not answer from the
# cache, for the route (the same request, a moment later) to read from.
_MISSED_PLAN_SCOPE_KEY = "ticktide.prices_plan"


@dataclass(frozen=True)
class PricesPlan:
    """What a prices request reads: its window, the pieces it covers at their
    current versions, and the key of its assembled answer (None: not cacheable)."""

    window: PriceWindow
    reader: PriceReader
    lo: datetime
    starts: list[datetime]
    versions: list[int] | None
    series: list[SeriesKey]
    key: str | None
    coding: str


async def plan_prices(
    query: PricesQuery,
    settings: GatewaySettings,
    pool: asyncpg.Pool,
    cache: ResponseCache,
    pieces: PieceCache,
    directory: SymbolDirectory,
    accept_encoding: str | None,
) -> PricesPlan:
    """Raises InvalidQuery (422) and UnknownSymbol (404)."""
    # Both are exclusive bounds: with both, the earlier one.
    bounds = [as_utc(b) for b in (query.end, query.before) if b is not None]
    end = min(bounds) if bounds else None
    window = resolve_price_window(
        interval=query.interval,
        start=query.start,
        end=end,
        limit=query.limit,
        now=datetime.now(UTC),
        default_limit=settings.default_candles_per_request,
        max_candles=settings.max_candles_per_request,
    )
    crypto_id = await directory.crypto_id(query.symbol)
    reader = PriceReader(pool, pieces, crypto_id, query.symbol, query.interval, query.format)
    lo = window.start if window.start is not None else window.end - window.limit * reader.step
    starts = await reader.bounded_starts(window, lo)
    versions = await reader.versions(starts)
    key = body_key(cache.prefix, query, end, versions, starts) if versions is not None else None
    return PricesPlan(
        window=window,
        reader=reader,
        lo=lo,
        starts=starts,
        versions=versions,
        series=[crypto_series(query.symbol, query.interval)],
        key=key,
        coding=choose_coding(accept_encoding),
    )


async def cached_prices(request: Request) -> Response | None:
    """The answer of `GET /api/crypto/prices` when it is cached, or None (the
    route then answers, and produces every error). The same checks as the route,
    without the framework's routing and dependency resolution: a cached year is
    a fraction of a millisecond of work, which they would multiply (see
    `cached_answers`). The caller is authenticated exactly as the route's guard
    does (`authenticate`, remembered in the scope for the activity log)."""
    try:
        query = PricesQuery.model_validate(dict(request.query_params))
    except ValidationError:
        return None
    try:
        await authenticate(request)
    except HTTPException:
        return None
    state = request.state
    try:
        plan = await plan_prices(
            query,
            state.settings,
            state.pool,
            state.cache,
            state.pieces,
            state.symbols,
            request.headers.get("accept-encoding"),
        )
    except (InvalidQuery, UnknownSymbol):
        return None
    if plan.key is None:
        return None
    hit: Response | None = await state.cache.coded_hit(plan.series, plan.key, plan.coding)
    if hit is None:
        request.scope[_MISSED_PLAN_SCOPE_KEY] = (query, plan)
    return hit


@router.get(
    "/aggregates",
    summary="4-hour or daily buckets of the hourly candles of one symbol",
    responses={
        200: {"model": CryptoAggregates},
        404: {"description": "unknown symbol"},
        422: {"description": "bad bucket, date or range"},
    },
)
async def aggregates(
    query: Annotated[BucketsQuery, Query()],
    settings: SettingsDep,
    pool: PoolDep,
    directory: SymbolsDep,
    path: SeriesPathDep,
) -> Response:
    """Each bucket of the stored 1h candles: `t` its start (UTC), `o` the first
    hour's open, `h`/`l` the extremes, `c` the last hour's close, `v` the summed
    volume, `n` the hours present. `start` inclusive, `end` exclusive, both rounded
    up to bucket starts; default the 365 buckets up to the one still open. Unlike
    `/prices?interval=1d` (the provider's daily candles), these are computed from
    the hourly series, the newest bucket included while it fills."""
    first, stop = bucket_window(
        query.bucket,
        query.start,
        query.end,
        datetime.now(UTC),
        settings.max_candles_per_request,
    )
    crypto_id = await directory.crypto_id(query.symbol)
    candles = await repository.bucketed_candles(
        pool, crypto_id, BUCKET_STEPS[query.bucket], first, stop, path
    )
    body = buckets_body(query.symbol, query.bucket, first, stop, candles.objects, candles.sources)
    return Response(body, media_type=JSON)
