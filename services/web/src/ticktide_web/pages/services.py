"""`/services`: every running instance of every service (from its heartbeat, or
for the web service a probe), its readiness and whether it stopped beating,
and each queue's depth, consumers and dead letters, from `GET /api/services`.
A small module swaps in fresh tables every 5 s."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ticktide_web.deps import PageDep
from ticktide_web.pages.dashboard import ago, ops_page, since

router = APIRouter()

QUEUE_SOURCES = {
    "management": "RabbitMQ's management API",
    "declare": "passive queue declarations (the management API did not answer)",
}


def _instance(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    instance = row.get("instance") or ""
    checks = row.get("checks") or {}
    return {
        **row,
        "short_id": instance[:8] if instance else "—",
        "started_ago": ago(since(row.get("started_at"), now)),
        "seen_ago": ago(since(row.get("last_seen"), now)),
        "failing": sorted((k, v) for k, v in checks.items() if v != "ok"),
        "checks_text": ", ".join(f"{k}: {v}" for k, v in sorted(checks.items())),
    }


def common_prefix(names: list[str]) -> str:
    """The bus prefix every queue name shares ("ticktide."), shown once, not on each row."""
    if len(names) < 2:
        return ""
    shared = os.path.commonprefix(names)
    return shared[: shared.rfind(".") + 1]


def _queue(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    problems = []
    if row.get("missing"):
        problems.append("missing")
    else:
        if (row.get("dead_letters") or 0) > 0:
            problems.append("dead letters")
        if row.get("consumers") == 0:
            problems.append("no consumers")
    return {**row, "short_name": row["name"][len(prefix) :], "problems": problems}


def services_view(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    instances = [_instance(r, now) for r in data.get("instances") or []]
    rows = list(data.get("queues") or [])
    prefix = common_prefix([str(q["name"]) for q in rows])
    queues = [_queue(q, prefix) for q in rows]
    return {
        "instances": instances,
        "queues": queues,
        "queue_prefix": prefix,
        "services": sorted({i["service"] for i in instances}),
        "stale": sum(1 for i in instances if i.get("stale")),
        "not_ready": sum(1 for i in instances if not i.get("ready")),
        "queue_problems": sum(1 for q in queues if q["problems"]),
        "source": data.get("source"),
        "source_text": QUEUE_SOURCES.get(str(data.get("source")), str(data.get("source"))),
        "queues_error": data.get("queues_error"),
        "now": now,
    }


@router.get("/services")
async def services(page: PageDep) -> Response:
    return await ops_page(
        page,
        "services.html",
        title="Services",
        path="/api/services",
        view=lambda data: services_view(data, datetime.now(UTC)),
        failed="The service list",
        scripts=["js/services.js"],
    )
