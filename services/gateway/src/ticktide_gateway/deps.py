"""The lifespan's typed state and the `Annotated` dependencies that read it from
`request.state`; routes declare what they need by these aliases."""

from __future__ import annotations

from typing import Annotated, TypedDict

import asyncpg
import httpx
from fastapi import Depends, Request
from redis.asyncio import Redis

from ticktide_common.activity import ActivityRecorder
from ticktide_common.backtests.events import BatchEventLog
from ticktide_common.bus import Bus
from ticktide_common.health import ReadinessCheck
from ticktide_common.sessions import SessionStore
from ticktide_gateway.aggregate_paths import SeriesPath
from ticktide_gateway.backtests.live import LiveBatches
from ticktide_gateway.cache import ResponseCache
from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.price_cache import PieceCache
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.weather import repository as weather_repository

__all__ = [
    "GatewayState",
    "SymbolDirectory",
    "UnknownSymbol",
    "PoolDep",
    "RedisDep",
    "BusDep",
    "HttpDep",
    "CacheDep",
    "PiecesDep",
    "SettingsDep",
    "SymbolsDep",
    "ChecksDep",
    "SeriesPathDep",
]


class UnknownSymbol(LookupError):
    """A well-formed symbol that is not in `cryptocurrencies`."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol


class SymbolDirectory:
    """symbol → cryptocurrencies.id, and a weather location's spelling → its
    configured name, remembered once found (neither changes; a symbol or a
    location added later is found on its first request). A cached answer then
    costs no PostgreSQL round trip for the lookup."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._ids: dict[str, int] = {}
        self._locations: dict[str, str] = {}

    async def location(self, name: str) -> str | None:
        """The configured name of location `name` (case-insensitive), None if unknown."""
        key = name.lower()
        found = self._locations.get(key)
        if found is None:
            found = await weather_repository.canonical_location(self.pool, name)
            if found is not None:
                self._locations[key] = found
        return found

    async def crypto_id(self, symbol: str) -> int:
        found = self._ids.get(symbol)
        if found is None:
            found = await repository.find_crypto_id(self.pool, symbol)
            if found is None:
                raise UnknownSymbol(symbol)
            self._ids[symbol] = found
        return found


class GatewayState(TypedDict):
    settings: GatewaySettings
    pool: asyncpg.Pool
    redis: Redis
    bus: Bus
    http: httpx.AsyncClient
    cache: ResponseCache
    pieces: PieceCache  # crypto price pieces (crypto.price_cache)
    symbols: SymbolDirectory
    checks: dict[str, ReadinessCheck]
    sessions: SessionStore
    activity: ActivityRecorder
    backtest_events: BatchEventLog
    live_batches: LiveBatches  # batch readers and stream/run caps (backtests.live)
    series_path: SeriesPath  # how series are aggregated here, asked once at start-up


async def get_settings(request: Request) -> GatewaySettings:
    return request.state.settings  # type: ignore[no-any-return]


async def get_pool(request: Request) -> asyncpg.Pool:
    return request.state.pool  # type: ignore[no-any-return]


async def get_redis(request: Request) -> Redis:
    return request.state.redis  # type: ignore[no-any-return]


async def get_bus(request: Request) -> Bus:
    return request.state.bus  # type: ignore[no-any-return]


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.state.http  # type: ignore[no-any-return]


async def get_cache(request: Request) -> ResponseCache:
    return request.state.cache  # type: ignore[no-any-return]


async def get_pieces(request: Request) -> PieceCache:
    return request.state.pieces  # type: ignore[no-any-return]


async def get_symbols(request: Request) -> SymbolDirectory:
    return request.state.symbols  # type: ignore[no-any-return]


async def get_checks(request: Request) -> dict[str, ReadinessCheck]:
    return request.state.checks  # type: ignore[no-any-return]


async def get_series_path(request: Request) -> SeriesPath:
    return request.state.series_path  # type: ignore[no-any-return]


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
RedisDep = Annotated[Redis, Depends(get_redis)]
BusDep = Annotated[Bus, Depends(get_bus)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
CacheDep = Annotated[ResponseCache, Depends(get_cache)]
PiecesDep = Annotated[PieceCache, Depends(get_pieces)]
SymbolsDep = Annotated[SymbolDirectory, Depends(get_symbols)]
ChecksDep = Annotated[dict[str, ReadinessCheck], Depends(get_checks)]
SeriesPathDep = Annotated[SeriesPath, Depends(get_series_path)]
