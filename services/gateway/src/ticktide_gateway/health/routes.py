"""Routes anyone may call: `/api/health`.

Who sees what: a signed-in admin, and an operator calling the gateway's own port
(a request that did not come through nginx or the web service, see
`ticktide_common.proxy_trust`), get the full report, computed for them (joined
with one in flight). Anyone else gets `public_summary` of a report at most
`HEALTH_CACHE_SECONDS` old: however many anonymous calls, one fan-out of probes
per period.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from ticktide_common.bus import Bus
from ticktide_common.health import ReadinessCheck
from ticktide_common.logging import get_logger
from ticktide_common.proxy_trust import VIA_TRUSTED_PROXY
from ticktide_common.topology import BACKTEST_WORKER_JOBS
from ticktide_gateway.auth import identify
from ticktide_gateway.deps import BusDep, ChecksDep, HttpDep, SettingsDep
from ticktide_gateway.health.report import (
    HealthReportCache,
    dependency_report,
    overall_status,
    probe_service,
    public_summary,
)
from ticktide_gateway.health.schemas import HealthAnswer
from ticktide_gateway.settings import GatewaySettings

__all__ = ["router", "full_report", "health_cache_of"]

router = APIRouter(prefix="/api", tags=["health"])

log = get_logger(__name__)

SERVICE_NAME = "gateway"
_CACHE_ATTRIBUTE = "health_report_cache"


@router.get(
    "/health",
    summary="Health of every service and dependency",
    description="200 when every service and dependency is ok, 503 otherwise. Anonymous "
    "callers get the overall status and each service's status, from a report at most a "
    "few seconds old; admins get the full report (each service's health and readiness, "
    "the dependencies and the backtest workers).",
    responses={
        200: {"model": HealthAnswer},
        503: {"model": HealthAnswer, "description": "a service or a dependency is not ok"},
    },
)
async def api_health(
    request: Request, settings: SettingsDep, http: HttpDep, checks: ChecksDep, bus: BusDep
) -> JSONResponse:
    """200 with status "ok" when every service and dependency is; 503 otherwise.
    `backtest_workers` (informational: workers scale from zero) counts the
    consumers of the backtest job queue and the jobs waiting in it."""
    cache = _cache(request, settings, http, checks, bus)
    if await _sees_everything(request):
        report = await cache.fresh()
    else:
        report = public_summary(await cache.recent())
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


async def _sees_everything(request: Request) -> bool:
    if not request.scope.get(VIA_TRUSTED_PROXY):
        return True  # on the gateway's own port: the operator
    try:
        principal = await identify(request)
    except HTTPException as exc:
        if exc.status_code != 401:  # the session store is down: the summary still answers
            log.warning("health.identify_failed", status=exc.status_code, detail=exc.detail)
        return False
    return principal.is_admin


def health_cache_of(app: Any) -> HealthReportCache | None:
    """The app's cache of the full report, once a `/api/health` call has made it."""
    cache: HealthReportCache | None = getattr(app.state, _CACHE_ATTRIBUTE, None)
    return cache


def _cache(
    request: Request,
    settings: GatewaySettings,
    http: Any,
    checks: dict[str, ReadinessCheck],
    bus: Bus,
) -> HealthReportCache:
    # One per app, made on first use with the lifespan's objects (which live as long).
    cache: HealthReportCache | None = getattr(request.app.state, _CACHE_ATTRIBUTE, None)
    if cache is None:

        async def compute() -> dict[str, Any]:
            return await full_report(settings, http, checks, bus)

        cache = HealthReportCache(compute, settings.health_cache_seconds)
        setattr(request.app.state, _CACHE_ATTRIBUTE, cache)
    return cache


async def full_report(
    settings: GatewaySettings, http: Any, checks: dict[str, ReadinessCheck], bus: Bus
) -> dict[str, Any]:
    """Every service's /health and /ready, every dependency, the backtest workers."""
    timeout = settings.service_probe_timeout_seconds
    auth, ingest, stocks, weather, writer, web, dependencies, workers = await asyncio.gather(
        probe_service(http, settings.auth_url, timeout),
        probe_service(http, settings.ingest_crypto_url, timeout),
        probe_service(http, settings.ingest_stocks_url, timeout),
        probe_service(http, settings.ingest_weather_url, timeout),
        probe_service(http, settings.writer_url, timeout),
        probe_service(http, settings.web_url, timeout),
        dependency_report(checks, timeout),
        _backtest_workers(bus, timeout),
    )
    deps_ok = all(d["status"] == "ok" for d in dependencies.values())
    services = {
        SERVICE_NAME: {
            "status": "ok" if deps_ok else "degraded",
            "version": settings.ticktide_version,
            "health": {
                "status": "ok",
                "service": SERVICE_NAME,
                "version": settings.ticktide_version,
            },
            "ready": {
                "status": "ok" if deps_ok else "unavailable",
                "checks": {name: d["detail"] for name, d in dependencies.items()},
            },
        },
        "auth": auth,
        "ingest-crypto": ingest,
        "ingest-stocks": stocks,
        "ingest-weather": weather,
        "writer": writer,
        "web": web,
    }
    return {
        "status": overall_status(services, dependencies),
        "services": services,
        "dependencies": dependencies,
        "backtest_workers": workers,
    }


async def _backtest_workers(bus: Bus, timeout: float) -> dict[str, int | str]:
    try:
        ready, consumers = await asyncio.wait_for(bus.queue_status(BACKTEST_WORKER_JOBS), timeout)
    except Exception as exc:  # the broker's own check reports the outage
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"consumers": consumers, "jobs_waiting": ready}
