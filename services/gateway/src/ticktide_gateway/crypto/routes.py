"""User routes under `/api/crypto`: symbols and prices, served from the Redis
cache when it holds the body, from PostgreSQL otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from starlette.background import BackgroundTask

from ticktide_gateway.auth import GuardedRoute, current_principal
from ticktide_gateway.cache import prices_key
from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.bodies import buckets_body, prices_body, symbols_body
from ticktide_gateway.crypto.schemas import (
    BUCKET_STEPS,
    BucketsQuery,
    CryptoAggregates,
    CryptoPrices,
    CryptoSymbols,
    PricesQuery,
    bucket_window,
    resolve_price_window,
)
from ticktide_gateway.deps import CacheDep, PoolDep, SeriesPathDep, SettingsDep, SymbolsDep
from ticktide_gateway.validation import as_utc

router = APIRouter(
    prefix="/api/crypto",
    tags=["crypto"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

JSON = "application/json"

PRICES_EXAMPLE = {
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
        200: {"model": CryptoPrices, "content": {JSON: {"example": PRICES_EXAMPLE}}},
        404: {"description": "unknown symbol"},
        422: {"description": "bad interval, date, range or limit"},
    },
)
async def prices(
    query: Annotated[PricesQuery, Query()],
    settings: SettingsDep,
    pool: PoolDep,
    cache: CacheDep,
    directory: SymbolsDep,
) -> Response:
    """`t` is the bar's open time (UTC); `o h l c v` are JSON numbers equal to the
    provider's decimal strings. `start` inclusive, `end` exclusive (default now).
    Without `start`: the latest `limit` (default 1000) candles before `end`.
    `source` names where the rows came from; "simulated" marks generated data."""
    window = resolve_price_window(
        interval=query.interval,
        start=query.start,
        end=query.end,
        limit=query.limit,
        now=datetime.now(UTC),
        default_limit=settings.default_candles_per_request,
        max_candles=settings.max_candles_per_request,
    )
    crypto_id = await directory.crypto_id(query.symbol)
    version = await cache.series_version(query.symbol, query.interval)
    key = None
    if version is not None:
        key = prices_key(
            cache.prefix,
            query.symbol,
            query.interval,
            version,
            window.start,
            as_utc(query.end) if query.end else None,
            query.limit,
        )
        cached = await cache.get_prices(key)
        if cached is not None:
            return Response(cached, media_type=JSON, headers={"X-Cache": "hit"})
    if window.mode == "range":
        assert window.start is not None and window.slots is not None
        candles = await repository.candles_in_range(
            pool, crypto_id, query.interval, window.start, window.end, window.limit, window.slots
        )
    else:
        candles = await repository.latest_candles(
            pool, crypto_id, query.interval, window.end, window.limit
        )
    body = prices_body(query.symbol, query.interval, candles.objects, candles.sources)
    # Stored after the response is sent: the caller does not wait for Redis.
    store = (
        BackgroundTask(cache.put_prices, query.symbol, query.interval, key, body)
        if key is not None
        else None
    )
    return Response(body, media_type=JSON, headers={"X-Cache": "miss"}, background=store)


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
