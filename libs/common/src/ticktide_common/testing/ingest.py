"""Helpers of the ingesters' integration tests: a service process that serves
and is ready, and an ingest job's progress once it has finished."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from ticktide_common.jobs import JobProgress, get_job_progress
from ticktide_common.testing.processes import ServiceProcess, wait_until

__all__ = ["assert_serving", "finished_job"]


async def assert_serving(service: ServiceProcess, name: str) -> dict[str, Any]:
    """`/health` answers ok as service `name` and `/ready` 200; returns `/ready`'s body."""
    async with httpx.AsyncClient(base_url=service.url) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "ok" and health["service"] == name, health
        ready = await http.get("/ready")
        assert ready.status_code == 200, ready.text
        body: dict[str, Any] = ready.json()
        return body


async def finished_job(
    pool: asyncpg.Pool, job_id: uuid.UUID, *, timeout: float = 30.0, what: str | None = None
) -> JobProgress:
    """The job's progress once it is finished (done or failed); the test fails
    with `what` (default: the job's id) if it is not within `timeout` seconds."""

    async def finished() -> bool:
        progress = await get_job_progress(pool, job_id)
        return progress is not None and progress.finished

    await wait_until(finished, timeout=timeout, what=what or f"job {job_id} to finish")
    progress = await get_job_progress(pool, job_id)
    assert progress is not None
    return progress
