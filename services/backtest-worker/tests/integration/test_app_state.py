"""The worker's lifespan yields its typed state (settings, pool, Redis, bus, the job
runner) and answers readiness from it; everything is given back on the way out."""

from __future__ import annotations

import httpx
import pytest

from ticktide_backtest_worker.app import create_app
from ticktide_backtest_worker.settings import WorkerSettings
from ticktide_backtest_worker.worker import BacktestJobRunner
from ticktide_common.testing.fixtures import settings_for

pytestmark = pytest.mark.integration


async def test_the_lifespan_yields_the_typed_state_and_readiness_reads_it(
    settings: WorkerSettings,
) -> None:
    own = settings_for(WorkerSettings, settings, backtest_prefetch=1)
    app = create_app(own)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        async with app.router.lifespan_context(app) as state:
            assert state is not None
            assert set(state) == {"settings", "pool", "redis", "bus", "runner"}
            assert state["settings"] is own
            assert isinstance(state["runner"], BacktestJobRunner)
            assert await state["pool"].fetchval("SELECT 1") == 1
            ready = await client.get("/ready")
            assert ready.status_code == 200, ready.text
            pool = state["pool"]
        assert pool.is_closing()
