"""`/api/health`: every service's `/health` and `/ready`, and every dependency.

Other services are asked over HTTP, concurrently, each with a timeout; the
gateway reports itself from inside. Dependencies are checked with the same
checks as `/ready`. The overall status is "ok" only when everything is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ticktide_common.health import ReadinessCheck, run_checks

__all__ = ["probe_service", "dependency_report", "overall_status"]


async def _get_json(
    http: httpx.AsyncClient, url: str, timeout: float
) -> tuple[int | None, Any, str | None]:
    try:
        response = await http.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, None, f"unreachable: {type(exc).__name__}: {exc}"[:300]
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    return response.status_code, body, None


async def probe_service(http: httpx.AsyncClient, base_url: str, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    base = base_url.rstrip("/")
    (
        (health_status, health, health_error),
        (ready_status, ready, ready_error),
    ) = await asyncio.gather(
        _get_json(http, f"{base}/health", timeout), _get_json(http, f"{base}/ready", timeout)
    )
    ok = health_status == 200 and ready_status == 200
    report: dict[str, Any] = {
        "status": "ok" if ok else "down" if health_status != 200 else "degraded",
        "url": base,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "health": health if health_error is None else {"error": health_error},
        "ready": ready if ready_error is None else {"error": ready_error},
    }
    if isinstance(health, Mapping) and "version" in health:
        report["version"] = health["version"]
    return report


async def dependency_report(
    checks: Mapping[str, ReadinessCheck], timeout: float
) -> dict[str, dict[str, str]]:
    _, results = await run_checks(checks, timeout=timeout)
    return {
        name: {"status": "ok" if result.startswith("ok") else "down", "detail": result}
        for name, result in results.items()
    }


def overall_status(
    services: Mapping[str, Mapping[str, Any]], dependencies: Mapping[str, Mapping[str, Any]]
) -> str:
    everything = [*services.values(), *dependencies.values()]
    return "ok" if all(item.get("status") == "ok" for item in everything) else "degraded"
