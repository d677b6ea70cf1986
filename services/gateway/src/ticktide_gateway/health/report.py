"""`/api/health`: every service's `/health` and `/ready`, and every dependency.

Other services are asked over HTTP, concurrently, each with a timeout; the
gateway reports itself from inside. Dependencies are checked with the same
checks as `/ready`. The overall status is "ok" only when everything is.

`HealthReportCache` makes one fan-out serve many callers: concurrent callers
share the computation in flight, and a caller content with a recent report (the
anonymous one, the dashboard) gets the last one while it is at most `max_age`
seconds old.
`public_summary` is what anonymous callers see of a report: the overall status
and each service's status, no URLs, versions, latencies or error texts.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from ticktide_common.health import ReadinessCheck, run_checks
from ticktide_common.logging import get_logger

__all__ = [
    "probe_service",
    "dependency_report",
    "overall_status",
    "public_summary",
    "HealthReportCache",
]

log = get_logger(__name__)


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


def public_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The overall status and each service's status of a full report: nothing
    that names an address, a version or an error."""
    services = report.get("services") or {}
    return {
        "status": report.get("status", "degraded"),
        "services": {
            name: {"status": str(entry.get("status", "down"))}
            for name, entry in services.items()
            if isinstance(entry, Mapping)
        },
    }


class HealthReportCache:
    """One computation of the report at a time, shared by every caller waiting
    for it; the last result kept with the time it was finished (`clock`)."""

    def __init__(
        self,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self.max_age = max_age
        self._clock = clock
        self._task: asyncio.Task[dict[str, Any]] | None = None
        self._last: dict[str, Any] | None = None
        self._last_at = -math.inf
        self.computations = 0  # how many fan-outs were started (tests and logs read it)

    async def fresh(self) -> dict[str, Any]:
        """A report computed now, or the one being computed: joined, not repeated."""
        if self._task is None:
            self.computations += 1
            self._task = asyncio.ensure_future(self._run())
        # shield: a caller that goes away does not cancel the others' computation.
        return await asyncio.shield(self._task)

    def latest(self) -> dict[str, Any] | None:
        """The last report while it is at most `max_age` old, else None (never computes)."""
        if self._last is not None and self._clock() - self._last_at <= self.max_age:
            return self._last
        return None

    async def recent(self) -> dict[str, Any]:
        """The last report while it is at most `max_age` old, else a fresh one."""
        last = self.latest()
        return last if last is not None else await self.fresh()

    async def _run(self) -> dict[str, Any]:
        try:
            report = await self._compute()
        except Exception as exc:
            log.error("health.report_failed", error=repr(exc))
            raise
        finally:
            self._task = None
        self._last, self._last_at = report, self._clock()
        return report
