"""`GET /api/services`: every service instance (its latest heartbeat; the web
service, which has no bus, by a probe of its `/health`; pgAdmin, where this
installation runs it (`PGADMIN_URL`), by a probe of its `/misc/ping`) and every
queue of the topology with its depth, consumers and dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, HTTPException
from redis.exceptions import RedisError

from ticktide_gateway.auth import GuardedRoute, current_principal
from ticktide_gateway.deps import BusDep, HttpDep, RedisDep, SettingsDep
from ticktide_gateway.health.queues import queue_report
from ticktide_gateway.health.registry import InstanceRegistry
from ticktide_gateway.health.services import (
    InstanceRow,
    ServicesReport,
    instance_rows,
    probed_instance,
    unreachable_instance,
)

__all__ = ["router", "probe_web", "probe_pgadmin"]

router = APIRouter(
    prefix="/api",
    tags=["services"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

WEB_SERVICE = "web"
PGADMIN_SERVICE = "pgadmin"

DESCRIPTION = (
    "`instances`: one row per running instance of every service, from its latest "
    "heartbeat (`via: heartbeat`, every `HEARTBEAT_SECONDS`); the web service has no "
    "bus and is probed at its `/health` (`via: probe`), and so is pgAdmin at its "
    "`/misc/ping` where this installation runs it (`PGADMIN_URL`). `stale` is true when an "
    "instance was last seen more than 3 heartbeat periods ago; `ready` is the outcome "
    "of its own readiness checks (`checks`); `status` is `running`, `stopping` (its "
    "last beat said it was shutting down) or `unreachable` (a probe failed). Instances "
    "silent for an hour are forgotten. `queues`: every queue of the topology with "
    "`messages` ready, `unacknowledged` (management API only, else null), "
    "`consumers` and `dead_letters` (messages in its `.dlq`); `missing` when the "
    "queue does not exist. `source` says whether the broker's management API or "
    "passive declares answered; queue figures are at most 2 s old."
)


async def probe_web(http: httpx.AsyncClient, base_url: str, timeout: float) -> InstanceRow:
    """The web service's row, from `GET {base_url}/health`."""
    host = urlsplit(base_url).hostname
    try:
        response = await http.get(f"{base_url.rstrip('/')}/health", timeout=timeout)
    except httpx.HTTPError as exc:
        return unreachable_instance(WEB_SERVICE, host, f"unreachable: {type(exc).__name__}")
    if response.status_code != 200:
        return unreachable_instance(WEB_SERVICE, host, f"/health answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    health: Mapping[str, object] = body if isinstance(body, Mapping) else {}
    return probed_instance(WEB_SERVICE, host, health, datetime.now(UTC))


async def probe_pgadmin(http: httpx.AsyncClient, base_url: str, timeout: float) -> InstanceRow:
    """pgAdmin's row, from `GET {base_url}/misc/ping` (it answers `PING`, and
    needs no sign-in for it)."""
    host = urlsplit(base_url).hostname
    try:
        response = await http.get(f"{base_url.rstrip('/')}/misc/ping", timeout=timeout)
    except httpx.HTTPError as exc:
        return unreachable_instance(PGADMIN_SERVICE, host, f"unreachable: {type(exc).__name__}")
    if response.status_code != 200 or response.text.strip() != "PING":
        return unreachable_instance(
            PGADMIN_SERVICE, host, f"/misc/ping answered {response.status_code}"
        )
    return probed_instance(PGADMIN_SERVICE, host, {}, datetime.now(UTC))


async def _no_row() -> None:
    return None


@router.get(
    "/services",
    summary="Service instances, their health, and queue depths",
    description=DESCRIPTION,
    response_model=ServicesReport,
    responses={503: {"description": "Redis is unavailable"}},
)
async def services(
    settings: SettingsDep, redis: RedisDep, http: HttpDep, bus: BusDep
) -> ServicesReport:
    topology = bus.topology
    try:
        timeout = settings.service_probe_timeout_seconds
        beats, web, pgadmin, queues = await asyncio.gather(
            InstanceRegistry(redis, settings.ticktide_redis_prefix).beats(),
            probe_web(http, settings.web_url, timeout),
            probe_pgadmin(http, settings.pgadmin_url, timeout)
            if settings.pgadmin_url
            else _no_row(),
            queue_report(settings, redis, http, bus, topology),
        )
    except RedisError as exc:  # heartbeats and the queue cache live there
        raise HTTPException(503, "Redis is unavailable; the services report needs it") from exc
    instances = instance_rows(beats, datetime.now(UTC), settings.heartbeat_seconds)
    return ServicesReport(
        instances=[*instances, web, *([pgadmin] if pgadmin is not None else [])],
        queues=queues.queues,
        source=queues.source,
        queues_error=queues.error,
    )
