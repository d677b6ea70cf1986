"""One fan-out of probes serves many /api/health callers (issue 10: every anonymous
call fanned out to ten probes), and anonymous callers see no internals; the
dashboard reads the same report while it is recent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ticktide_gateway.dashboard.routes import summary_of_report
from ticktide_gateway.health.report import HealthReportCache, public_summary


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_computation_and_recent_reuses_it() -> None:
    release = asyncio.Event()
    runs = 0

    async def compute() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        await release.wait()
        return {"status": "ok", "run": runs}

    clock = Clock()
    cache = HealthReportCache(compute, max_age=5.0, clock=clock)
    callers = [asyncio.ensure_future(cache.recent()) for _ in range(30)]
    callers.append(asyncio.ensure_future(cache.fresh()))
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*callers)
    assert runs == 1 and cache.computations == 1
    assert all(result == {"status": "ok", "run": 1} for result in results)

    clock.now += 5.0  # still within max_age
    assert (await cache.recent())["run"] == 1 and runs == 1
    clock.now += 0.5
    assert (await cache.recent())["run"] == 2
    assert (await cache.fresh())["run"] == 3  # fresh never reuses a finished report


async def test_a_failed_computation_is_not_kept() -> None:
    calls = 0

    async def compute() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("probe blew up")
        return {"status": "ok"}

    cache = HealthReportCache(compute, max_age=5.0, clock=Clock())
    with pytest.raises(RuntimeError):
        await cache.recent()
    assert await cache.recent() == {"status": "ok"}


def test_public_summary_has_statuses_only() -> None:
    report = {
        "status": "degraded",
        "services": {
            "gateway": {"status": "ok", "version": "1", "ready": {"checks": {"redis": "ok"}}},
            "writer": {
                "status": "down",
                "url": "http://10.0.0.5:8102",
                "health": {"error": "unreachable: ConnectError"},
            },
        },
        "dependencies": {"redis": {"status": "ok", "detail": "ok (0.3 ms)"}},
        "backtest_workers": {"consumers": 2},
    }
    assert public_summary(report) == {
        "status": "degraded",
        "services": {"gateway": {"status": "ok"}, "writer": {"status": "down"}},
    }


async def test_latest_never_computes_and_the_dashboard_reduces_a_full_report() -> None:
    clock = Clock()
    report = {
        "status": "degraded",
        "services": {"gateway": {"status": "ok", "url": "x"}, "writer": {"status": "down"}},
        "dependencies": {"redis": {"status": "ok", "detail": "ok 1 ms"}},
        "backtest_workers": {"consumers": 0},
    }

    async def compute() -> dict[str, Any]:
        return report

    cache = HealthReportCache(compute, max_age=5.0, clock=clock)
    assert cache.latest() is None and cache.computations == 0
    await cache.fresh()
    assert cache.latest() is report
    clock.now += 5.5
    assert cache.latest() is None and cache.computations == 1
    assert summary_of_report(report).model_dump() == {
        "status": "degraded",
        "services": {"gateway": "ok", "writer": "down"},
        "dependencies": {"redis": "ok"},
    }
