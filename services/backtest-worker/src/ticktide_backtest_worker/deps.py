"""The lifespan's typed state and the `Annotated` dependencies that read it from
`request.state`; a route declares what it needs by these aliases."""

from __future__ import annotations

from typing import Annotated, TypedDict

import asyncpg
from fastapi import Depends, Request
from redis.asyncio import Redis

from ticktide_backtest_worker.settings import WorkerSettings
from ticktide_backtest_worker.worker import BacktestJobRunner
from ticktide_common.bus import Bus

__all__ = ["BusDep", "PoolDep", "RedisDep", "RunnerDep", "SettingsDep", "WorkerState"]


class WorkerState(TypedDict):
    settings: WorkerSettings
    pool: asyncpg.Pool
    redis: Redis
    bus: Bus
    runner: BacktestJobRunner


async def get_settings(request: Request) -> WorkerSettings:
    return request.state.settings  # type: ignore[no-any-return]


async def get_pool(request: Request) -> asyncpg.Pool:
    return request.state.pool  # type: ignore[no-any-return]


async def get_redis(request: Request) -> Redis:
    return request.state.redis  # type: ignore[no-any-return]


async def get_bus(request: Request) -> Bus:
    return request.state.bus  # type: ignore[no-any-return]


async def get_runner(request: Request) -> BacktestJobRunner:
    return request.state.runner  # type: ignore[no-any-return]


SettingsDep = Annotated[WorkerSettings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
RedisDep = Annotated[Redis, Depends(get_redis)]
BusDep = Annotated[Bus, Depends(get_bus)]
RunnerDep = Annotated[BacktestJobRunner, Depends(get_runner)]
