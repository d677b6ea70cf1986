"""Health of everything, request metrics in batches, and the OpenAPI document."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from ticktide_common.testing.processes import wait_until


async def test_own_health_ready_metrics(api: httpx.AsyncClient) -> None:
    health = await api.get("/health")
    assert health.json() == {"status": "ok", "service": "gateway", "version": "0.1.0"}
    ready = (await api.get("/ready")).json()
    assert ready["status"] == "ok"
    assert set(ready["checks"]) == {"postgresql", "redis", "rabbitmq"}
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert "ticktide_http_request_duration_seconds" in metrics.text


async def test_api_health_reports_every_service_and_dependency(
    api: httpx.AsyncClient, stub_services
) -> None:  # type: ignore[no-untyped-def]
    response = await api.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == {
        "gateway",
        "auth",
        "ingest-crypto",
        "ingest-stocks",
        "ingest-weather",
        "writer",
        "web",
    }
    assert all(s["status"] == "ok" for s in body["services"].values())
    assert body["services"]["writer"]["health"]["service"] == "writer"
    assert body["services"]["writer"]["url"] == stub_services["writer"].url
    assert set(body["dependencies"]) == {"postgresql", "redis", "rabbitmq"}
    assert all(d["status"] == "ok" for d in body["dependencies"].values())


async def test_api_health_is_503_when_a_service_is_down(
    api: httpx.AsyncClient, stub_services
) -> None:  # type: ignore[no-untyped-def]
    writer = stub_services["writer"]
    writer.stop()
    try:
        response = await api.get("/api/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["services"]["writer"]["status"] == "down"
        assert "unreachable" in body["services"]["writer"]["health"]["error"]
        assert body["services"]["ingest-crypto"]["status"] == "ok"
    finally:
        writer.start()
    assert (await api.get("/api/health")).status_code == 200


async def test_requests_are_recorded_in_batches_by_route_template(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    since = datetime.now(UTC)
    requests = 25
    for _ in range(requests):
        response = await api.get(f"/api/admin/ingest/jobs/{uuid.uuid4()}")
        assert response.status_code == 404
    template = "/api/admin/ingest/jobs/{job_id}"
    query = """SELECT count(*) AS rows, count(DISTINCT xmin::text) AS inserts,
                      min(response_time_ms) AS fastest
               FROM performance_metrics
               WHERE endpoint = $1 AND method = 'GET' AND status_code = 404
                 AND timestamp >= $2"""

    async def all_recorded() -> bool:
        row = await db_pool.fetchrow(query, template, since)
        return row is not None and int(row["rows"]) >= requests

    await wait_until(all_recorded, timeout=10, what="performance_metrics rows")
    row = await db_pool.fetchrow(query, template, since)
    assert row is not None
    assert row["rows"] == requests
    assert row["inserts"] < requests / 5  # one COPY per batch, not one insert per request
    assert row["fastest"] > 0
    raw_urls = await db_pool.fetchval(
        "SELECT count(*) FROM performance_metrics WHERE endpoint LIKE '/api/admin/ingest/jobs/%'"
        " AND endpoint <> $1",
        template,
    )
    assert raw_urls == 0

    metrics = (await api.get("/metrics")).text
    assert (
        'ticktide_http_request_duration_seconds_count{method="GET",'
        'route="/api/admin/ingest/jobs/{job_id}",status="404"}'
    ) in metrics


async def test_unmatched_paths_share_one_endpoint_label(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    since = datetime.now(UTC)
    await api.get(f"/api/no/such/{time.time_ns()}")
    # Pages are forwarded to the web service: one bounded label per page family.
    await api.get(f"/backtests/{time.time_ns()}")
    await api.get(f"/no-such-page/{time.time_ns()}")

    async def recorded() -> bool:
        labels = {
            row["endpoint"]
            for row in await db_pool.fetch(
                "SELECT DISTINCT endpoint FROM performance_metrics WHERE timestamp >= $1", since
            )
        }
        return {"<unmatched>", "page /backtests", "page <other>"} <= labels

    await wait_until(recorded, timeout=10, what="unmatched and page requests recorded")


async def test_openapi_lists_the_routes(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/api/health",
        "/api/crypto/symbols",
        "/api/crypto/prices",
        "/api/crypto/quality",
        "/api/admin/ingest/crypto/backfill",
        "/api/admin/ingest/jobs/{job_id}",
    ):
        assert path in paths, path
    prices_params = {p["name"] for p in paths["/api/crypto/prices"]["get"]["parameters"]}
    assert prices_params == {"symbol", "interval", "start", "end", "before", "limit", "format"}
    assert "post" in paths["/api/admin/ingest/crypto/backfill"]
    assert (await api.get("/api/docs")).status_code == 200
