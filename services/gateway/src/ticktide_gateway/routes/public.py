"""Routes anyone may call: `/api/health`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticktide_common.bus import Bus
from ticktide_common.topology import BACKTEST_WORKER_JOBS
from ticktide_gateway.deps import BusDep, ChecksDep, HttpDep, SettingsDep
from ticktide_gateway.health_report import dependency_report, overall_status, probe_service

router = APIRouter(prefix="/api", tags=["health"])

SERVICE_NAME = "gateway"


@router.get("/health", summary="Health of every service and dependency")
async def api_health(
    settings: SettingsDep, http: HttpDep, checks: ChecksDep, bus: BusDep
) -> JSONResponse:
    """200 with status "ok" when every service and dependency is; 503 otherwise.
    `backtest_workers` (informational: workers scale from zero) counts the
    consumers of the backtest job queue and the jobs waiting in it."""
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
    status = overall_status(services, dependencies)
    return JSONResponse(
        {
            "status": status,
            "services": services,
            "dependencies": dependencies,
            "backtest_workers": workers,
        },
        status_code=200 if status == "ok" else 503,
    )


async def _backtest_workers(bus: Bus, timeout: float) -> dict[str, int | str]:
    try:
        ready, consumers = await asyncio.wait_for(bus.queue_status(BACKTEST_WORKER_JOBS), timeout)
    except Exception as exc:  # the broker's own check reports the outage
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"consumers": consumers, "jobs_waiting": ready}
