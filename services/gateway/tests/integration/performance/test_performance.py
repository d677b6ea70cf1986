"""`GET /api/performance` against the real gateway and PostgreSQL: exact request
counts, error rates and percentiles of known latencies per endpoint, buckets of
the series, ingest and backtest throughput per bucket, lag, and 422 for a bad
window."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import numpy as np
import pytest

from ticktide_common.testing.users import create_test_user

pytestmark = pytest.mark.integration

PERFORMANCE = "/api/performance"
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def bucket_of(t: datetime, step: timedelta) -> datetime:
    return ORIGIN + ((t - ORIGIN) // step) * step


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def performance(client: httpx.AsyncClient, window: str) -> dict:  # type: ignore[type-arg]
    answer = await client.get(PERFORMANCE, params={"window": window})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def insert_requests(
    pool: asyncpg.Pool, rows: list[tuple[str, str, float, int, datetime]]
) -> None:
    await pool.executemany(
        """INSERT INTO performance_metrics (endpoint, method, response_time_ms, status_code,
                                            "timestamp")
           VALUES ($1, $2, $3, $4, $5)""",
        rows,
    )


async def test_endpoint_counts_error_rates_and_percentiles_of_known_latencies(
    user_api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    endpoint = f"/test/perf/{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    latencies = [float(ms) for ms in range(1, 101)]  # 1..100 ms
    statuses = [500] * 5 + [404] * 8 + [422] * 2 + [200] * 85
    recent = [
        (endpoint, "GET", ms, status, now - timedelta(minutes=30) + i * timedelta(seconds=1))
        for i, (ms, status) in enumerate(zip(latencies, statuses, strict=True))
    ]
    # The same endpoint with another method, and requests older than an hour.
    posted = [(endpoint, "POST", 7.0, 201, now - timedelta(minutes=10))]
    older = [(endpoint, "GET", 1000.0, 503, now - timedelta(hours=3)) for _ in range(3)]
    await insert_requests(db_pool, recent + posted + older)

    hour = await performance(user_api, "1h")
    figures = {(e["endpoint"], e["method"]): e for e in hour["endpoints"]}
    got = figures[(endpoint, "GET")]
    assert {k: got[k] for k in ("requests", "errors_5xx", "errors_4xx")} == {
        "requests": 100,
        "errors_5xx": 5,
        "errors_4xx": 10,
    }
    assert got["error_rate"] == 0.05
    assert got["client_error_rate"] == 0.1
    assert got["requests_per_minute"] == pytest.approx(100 / 60)
    # percentile_cont is linear interpolation between the closest ranks.
    expected = np.percentile(latencies, [50, 95, 99], method="linear")
    assert [got["p50_ms"], got["p95_ms"], got["p99_ms"]] == pytest.approx(list(expected))
    assert (got["p50_ms"], got["p95_ms"], got["p99_ms"]) == pytest.approx((50.5, 95.05, 99.01))
    assert figures[(endpoint, "POST")]["requests"] == 1
    assert figures[(endpoint, "POST")]["p99_ms"] == 7.0

    day = await performance(user_api, "24h")
    got = {(e["endpoint"], e["method"]): e for e in day["endpoints"]}[(endpoint, "GET")]
    assert (got["requests"], got["errors_5xx"]) == (103, 8)
    assert got["p99_ms"] == pytest.approx(np.percentile(latencies + [1000.0] * 3, 99))
    assert got["requests_per_minute"] == pytest.approx(103 / 1440)

    # Most requested first; the overall figures and the series add up.
    requests = [e["requests"] for e in day["endpoints"]]
    assert requests == sorted(requests, reverse=True)
    assert day["overall"]["requests"] == sum(requests) == sum(b["requests"] for b in day["series"])
    assert day["overall"]["errors_5xx"] == sum(b["errors"] for b in day["series"])


@pytest.mark.parametrize(
    ("window", "seconds", "length"),
    [
        ("1h", 60, timedelta(hours=1)),
        ("24h", 900, timedelta(hours=24)),
        ("7d", 7200, timedelta(days=7)),
    ],
)
async def test_series_covers_the_window_in_buckets_of_its_width(
    user_api: httpx.AsyncClient, window: str, seconds: int, length: timedelta
) -> None:
    body = await performance(user_api, window)
    start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
    assert body["window"] == window and body["bucket_seconds"] == seconds
    assert end - start == length
    step = timedelta(seconds=seconds)
    for series in [body["series"], body["backtests"]["series"]] + [
        source["series"] for source in body["ingest"]
    ]:
        times = [datetime.fromisoformat(b["t"]) for b in series]
        assert times[0] == bucket_of(start, step)
        assert times[-1] == bucket_of(end, step)
        assert all(b - a == step for a, b in zip(times, times[1:], strict=False))
        assert len(times) in (length // step, length // step + 1)


async def test_a_bucket_of_the_series_has_its_own_requests_errors_and_p95(
    user_api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    # 20 h ago: long before this test run's gateway recorded anything.
    step = timedelta(minutes=15)
    bucket = bucket_of(datetime.now(UTC) - timedelta(hours=20), step)
    await insert_requests(
        db_pool,
        [
            ("/test/series", "GET", 10.0, 200, bucket + timedelta(seconds=1)),
            ("/test/series", "GET", 20.0, 404, bucket + timedelta(minutes=5)),
            ("/test/series", "GET", 30.0, 200, bucket + timedelta(minutes=14)),
            ("/test/other", "GET", 40.0, 503, bucket + timedelta(minutes=14, seconds=59)),
            ("/test/other", "GET", 99.0, 200, bucket + step),  # the next bucket
        ],
    )
    body = await performance(user_api, "24h")
    series = {b["t"]: b for b in body["series"]}
    assert series[iso(bucket)] == {
        "t": iso(bucket),
        "requests": 4,
        "errors": 1,
        "client_errors": 1,
        "p95_ms": pytest.approx(38.5),  # 30 + 0.85 * (40 - 30)
    }
    assert series[iso(bucket + step)]["requests"] == 1
    assert series[iso(bucket - step)] == {
        "t": iso(bucket - step),
        "requests": 0,
        "errors": 0,
        "client_errors": 0,
        "p95_ms": None,
    }


async def test_ingest_throughput_per_domain_and_bucket_and_lag(
    user_api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    step = timedelta(minutes=15)
    bucket = bucket_of(datetime.now(UTC) - timedelta(hours=19), step)
    jobs = {domain: uuid.uuid4() for domain in ("crypto", "stocks", "weather")}
    await db_pool.executemany(
        """INSERT INTO ingest_jobs (id, kind, symbol, interval_type, status, domain)
           VALUES ($1, 'backfill', 'X', '1d', 'done', $2)""",
        [(job, domain) for domain, job in jobs.items()],
    )
    await db_pool.executemany(
        "INSERT INTO ingest_batches (batch_id, job_id, candles, stored_at) VALUES ($1, $2, $3, $4)",
        [
            (uuid.uuid4(), jobs["stocks"], 300, bucket + timedelta(minutes=1)),
            (uuid.uuid4(), jobs["stocks"], 200, bucket + timedelta(minutes=14)),
            (uuid.uuid4(), jobs["weather"], 24, bucket + timedelta(minutes=2)),
            (uuid.uuid4(), jobs["crypto"], 1000, bucket - step),
            (uuid.uuid4(), None, 5, bucket),  # no job: no domain, not counted
        ],
    )
    body = await performance(user_api, "24h")
    end = datetime.fromisoformat(body["end"])
    sources = {s["source"]: s for s in body["ingest"]}
    assert [s["source"] for s in body["ingest"]] == ["crypto", "stocks", "weather"]

    def at(source: str, t: datetime) -> dict:  # type: ignore[type-arg]
        return {b["t"]: b for b in sources[source]["series"]}[iso(t)]

    assert at("stocks", bucket) == {"t": iso(bucket), "rows": 500, "batches": 2}
    assert at("weather", bucket) == {"t": iso(bucket), "rows": 24, "batches": 1}
    assert at("crypto", bucket) == {"t": iso(bucket), "rows": 0, "batches": 0}
    assert at("crypto", bucket - step) == {"t": iso(bucket - step), "rows": 1000, "batches": 1}
    for source in sources.values():
        assert source["rows"] == sum(b["rows"] for b in source["series"])
        assert source["rows_per_minute"] == pytest.approx(source["rows"] / 1440)

    newest = await db_pool.fetchrow(
        """SELECT (SELECT max(datetime) FROM crypto_prices) AS crypto,
                  (SELECT max(datetime) FROM stock_prices) AS stocks,
                  (SELECT max(datetime) FROM weather_historic) AS weather"""
    )
    assert newest is not None
    for domain, table in (
        ("crypto", "crypto_prices"),
        ("stocks", "stock_prices"),
        ("weather", "weather_historic"),
    ):
        source = sources[domain]
        assert source["table"] == table
        last = newest[domain]
        if last is None:
            assert (source["last"], source["lag_seconds"]) == (None, None)
        else:
            assert datetime.fromisoformat(source["last"]) == last
            assert source["lag_seconds"] == pytest.approx((end - last).total_seconds(), abs=1e-3)


async def test_backtest_throughput_per_bucket_for_all_workers(
    user_api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    step = timedelta(hours=2)
    bucket = bucket_of(datetime.now(UTC) - timedelta(days=5), step)
    user_id, _ = await create_test_user(db_pool)
    batch_id = uuid.uuid4()
    await db_pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, total_jobs, total_backtests,
                                  created_at)
           VALUES ($1, $2, $3::jsonb, 'macd', 7, 7, $4)""",
        batch_id,
        user_id,
        json.dumps({"symbols": ["BTCUSDT"], "intervals": ["1h"]}),
        bucket - step,
    )
    statuses = ["done"] * 3 + ["failed"] + ["skipped"] * 2
    await db_pool.executemany(
        "INSERT INTO backtest_jobs (batch_id, job_id, status, finished_at) VALUES ($1, $2, $3, $4)",
        [(batch_id, j, s, bucket + j * timedelta(minutes=10)) for j, s in enumerate(statuses)]
        + [(batch_id, 6, "done", bucket + step)],
    )
    body = (await performance(user_api, "7d"))["backtests"]
    assert body["per_worker"] is False
    assert "for all workers together" in body["note"]
    series = {b["t"]: b for b in body["series"]}
    assert series[iso(bucket)] == {
        "t": iso(bucket),
        "jobs": 6,
        "done": 3,
        "failed": 1,
        "skipped": 2,
    }
    assert series[iso(bucket + step)]["jobs"] == 1
    assert body["jobs"] == sum(b["jobs"] for b in body["series"]) >= 7
    assert body["jobs_per_minute"] == pytest.approx(body["jobs"] / (7 * 1440))


@pytest.mark.parametrize("window", ["2h", "1H", "", "7 d", "24h;DROP TABLE users"])
async def test_a_bad_window_is_422_naming_it(user_api: httpx.AsyncClient, window: str) -> None:
    answer = await user_api.get(PERFORMANCE, params={"window": window})
    assert answer.status_code == 422, answer.text
    assert "query parameter 'window'" in answer.json()["detail"]
    assert "'1h', '24h' or '7d'" in answer.json()["detail"]


async def test_default_window_anonymous_and_openapi(
    user_api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient
) -> None:
    assert (await user_api.get(PERFORMANCE)).json()["window"] == "1h"
    assert (await anonymous_api.get(PERFORMANCE)).status_code == 401
    document = (await user_api.get("/api/openapi.json")).json()
    operation = document["paths"][PERFORMANCE]["get"]
    assert "all workers together" in operation["description"]
    content = operation["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Performance"}
