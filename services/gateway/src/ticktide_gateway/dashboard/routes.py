"""User route `GET /api/dashboard`: everything the dashboard page shows in one
answer: latest prices and changes, current weather, the caller's batches, a
health summary of the services and the freshness of each data source.

The data comes from one read-only snapshot on one connection (a few index
probes); the health summary comes beside it from a report shared by every caller
(`shared_health`): the full report `/api/health` keeps while it is at most
HEALTH_CACHE_SECONDS old, else the dashboard's own summary, probed with a short
timeout (a service that hangs makes its entry "down", never the dashboard slow)
at most once per HEALTH_CACHE_SECONDS, concurrent callers joining the round in
flight (`HealthReportCache`). So no number of dashboard calls makes more probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from fastapi import APIRouter, Depends, Request

from ticktide_common.health import ReadinessCheck
from ticktide_gateway.auth import CurrentPrincipal, GuardedRoute, current_principal
from ticktide_gateway.backtests import repository as backtest_repository
from ticktide_gateway.backtests.listing import batch_item
from ticktide_gateway.dashboard import repository as repo
from ticktide_gateway.dashboard.schemas import (
    RECENT_BATCHES,
    RUNNING_BATCHES,
    CryptoQuote,
    Dashboard,
    DashboardBatches,
    Freshness,
    HealthSummary,
    SourceFreshness,
    StockQuote,
    WeatherNow,
)
from ticktide_gateway.deps import ChecksDep, HttpDep, PoolDep, SettingsDep
from ticktide_gateway.health.report import (
    HealthReportCache,
    dependency_report,
    overall_status,
    probe_service,
)
from ticktide_gateway.health.routes import health_cache_of
from ticktide_gateway.settings import GatewaySettings

__all__ = ["router", "Dashboard", "health_summary", "shared_health", "summary_of_report"]

router = APIRouter(
    prefix="/api",
    tags=["dashboard"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

HEALTH_TIMEOUT_SECONDS = 1.0  # at most; less when the probe timeout is shorter
_CACHE_ATTRIBUTE = "dashboard_health_cache"


def _service_urls(settings: GatewaySettings) -> dict[str, str]:
    return {
        "auth": settings.auth_url,
        "ingest-crypto": settings.ingest_crypto_url,
        "ingest-stocks": settings.ingest_stocks_url,
        "ingest-weather": settings.ingest_weather_url,
        "writer": settings.writer_url,
        "web": settings.web_url,
    }


async def _service_status(http: httpx.AsyncClient, url: str, timeout: float) -> str:
    # httpx's timeout bounds each phase of a request, not the whole: cap it here.
    try:
        report = await asyncio.wait_for(probe_service(http, url, timeout), timeout + 0.25)
    except TimeoutError:
        return "down"
    return str(report["status"])


async def health_summary(
    settings: GatewaySettings, http: httpx.AsyncClient, checks: Mapping[str, ReadinessCheck]
) -> HealthSummary:
    """What `/api/health` reports, reduced to one status per service and dependency."""
    timeout = min(settings.service_probe_timeout_seconds, HEALTH_TIMEOUT_SECONDS)
    urls = _service_urls(settings)
    statuses, dependencies = await asyncio.gather(
        asyncio.gather(*(_service_status(http, url, timeout) for url in urls.values())),
        dependency_report(checks, timeout),
    )
    deps_ok = all(d["status"] == "ok" for d in dependencies.values())
    services = {
        "gateway": "ok" if deps_ok else "degraded",
        **dict(zip(urls, statuses, strict=True)),
    }
    overall = overall_status({n: {"status": s} for n, s in services.items()}, dependencies)
    return HealthSummary(
        status=overall,
        services=services,
        dependencies={name: d["status"] for name, d in dependencies.items()},
    )


def summary_of_report(report: Mapping[str, Any]) -> HealthSummary:
    """A full `/api/health` report reduced to one status per service and dependency."""
    services = report.get("services") or {}
    dependencies = report.get("dependencies") or {}
    return HealthSummary(
        status=str(report.get("status", "degraded")),
        services={name: str(entry.get("status", "down")) for name, entry in services.items()},
        dependencies={name: str(d.get("status", "down")) for name, d in dependencies.items()},
    )


async def shared_health(
    request: Request,
    settings: GatewaySettings,
    http: httpx.AsyncClient,
    checks: Mapping[str, ReadinessCheck],
) -> HealthSummary:
    """The health summary from a report shared by every caller: `/api/health`'s while
    recent, else the dashboard's own, computed at most once per HEALTH_CACHE_SECONDS."""
    full = health_cache_of(request.app)
    report = full.latest() if full is not None else None
    if report is not None:
        return summary_of_report(report)
    # One per app, made on first use with the lifespan's objects (which live as long).
    cache: HealthReportCache | None = getattr(request.app.state, _CACHE_ATTRIBUTE, None)
    if cache is None:

        async def compute() -> dict[str, Any]:
            return (await health_summary(settings, http, checks)).model_dump()

        cache = HealthReportCache(compute, settings.health_cache_seconds)
        setattr(request.app.state, _CACHE_ATTRIBUTE, cache)
    return HealthSummary.model_validate(await cache.recent())


async def _snapshot(pool: asyncpg.Pool, user_id: int) -> dict[str, Any]:
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        return {
            "crypto": await repo.crypto_latest(connection),
            "stocks": await repo.stocks_latest(connection),
            "weather": await repo.weather_current(connection),
            "running": await backtest_repository.list_batches(
                connection, user_id, RUNNING_BATCHES, running=True
            ),
            "recent": await backtest_repository.list_batches(connection, user_id, RECENT_BATCHES),
            "freshness": await repo.freshness(connection),
        }


def _freshness(found: repo.Freshness, now: datetime) -> SourceFreshness:
    age = (now - found.last).total_seconds() if found.last is not None else None
    return SourceFreshness(
        table=found.table, last=found.last, age_seconds=age, simulated=found.simulated
    )


@router.get(
    "/dashboard",
    summary="Latest prices, weather, the caller's batches, service health and data freshness",
    description="Crypto prices are the newest 1h close of each active pair and its change "
    "from the close exactly 24 h earlier; stocks the newest daily close and its change "
    "from the previous session; null where not known. Health comes from a report shared "
    "by every caller, refreshed at most every HEALTH_CACHE_SECONDS; its probes are cut "
    f"short after at most {HEALTH_TIMEOUT_SECONDS:g} s (an unanswering service shows as "
    "down).",
)
async def dashboard(
    request: Request,
    principal: CurrentPrincipal,
    pool: PoolDep,
    settings: SettingsDep,
    http: HttpDep,
    checks: ChecksDep,
) -> Dashboard:
    data, health = await asyncio.gather(
        _snapshot(pool, principal.user_id), shared_health(request, settings, http, checks)
    )
    now = datetime.now(UTC)
    fresh = {f.domain: _freshness(f, now) for f in data["freshness"]}
    return Dashboard(
        generated_at=now,
        crypto=[CryptoQuote(**dict(r)) for r in data["crypto"]],
        stocks=[
            StockQuote(**{**dict(r), "date": r["t"].date() if r["t"] else None})
            for r in data["stocks"]
        ],
        weather=[WeatherNow(**dict(r)) for r in data["weather"]],
        batches=DashboardBatches(
            running=[batch_item(r) for r in data["running"]],
            recent=[batch_item(r) for r in data["recent"]],
        ),
        health=health,
        freshness=Freshness(**fresh),
    )
