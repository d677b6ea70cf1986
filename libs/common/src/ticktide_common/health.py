"""`/health` (liveness), `/ready` (dependencies) and `/metrics` for any service.

They are for operators and scripts on each service's own port. nginx answers 404
for them; a request that still reaches them through a trusted hop (nginx or the
web service, `proxy_trust.VIA_TRUSTED_PROXY`) is answered 404 here as well."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.proxy_trust import VIA_TRUSTED_PROXY

__all__ = ["ReadinessCheck", "health_router", "postgres_check", "redis_check", "bus_check"]

ReadinessCheck = Callable[[], Awaitable[None]]


def postgres_check(pool: asyncpg.Pool) -> ReadinessCheck:
    async def check() -> None:
        await pool.fetchval("SELECT 1")

    return check


def redis_check(redis: Redis) -> ReadinessCheck:
    async def check() -> None:
        await redis.ping()

    return check


def bus_check(bus: Bus) -> ReadinessCheck:
    async def check() -> None:
        if bus.connection.is_closed:
            raise ConnectionError("RabbitMQ connection is closed (reconnecting)")

    return check


async def run_checks(
    checks: Mapping[str, ReadinessCheck], timeout: float = 2.0
) -> tuple[bool, dict[str, str]]:
    async def one(check: ReadinessCheck) -> str:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout)
        except Exception as exc:  # each dependency's failure is reported, not raised
            return f"error: {exc!r}"[:300]
        return f"ok ({(time.perf_counter() - started) * 1000:.1f} ms)"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    report = dict(zip(names, results, strict=True))
    return all(r.startswith("ok") for r in results), report


def _not_through_a_proxy(request: Request) -> None:
    if request.scope.get(VIA_TRUSTED_PROXY):
        raise HTTPException(404, "Not Found")


def health_router(
    service: str, version: str, checks: Callable[[], Mapping[str, ReadinessCheck]]
) -> APIRouter:
    """Routes for liveness, readiness and Prometheus; `checks` is read per request
    so that it can reach objects created in the app's lifespan."""
    router = APIRouter(tags=["health"], dependencies=[Depends(_not_through_a_proxy)])

    @router.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service, "version": version}

    @router.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        ok, report = await run_checks(checks())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "service": service, "checks": report},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
