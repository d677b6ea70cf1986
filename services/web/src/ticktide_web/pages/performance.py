"""`/performance`: the gateway's request rate, error rate and latency per
endpoint and over time, ingest throughput and lag per source, and backtest
throughput, over a window of 1 h, 24 h or 7 d (`GET /api/performance`).

The page is complete without JavaScript: a GET form picks the window, column
headers sort the endpoint table, and every chart's data is also a table; a
module draws the charts (uPlot) from a JSON data block."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ticktide_web.deps import PageDep
from ticktide_web.pages.dashboard import duration_words, ops_page, parse_time

router = APIRouter()

WINDOWS = (("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"))
INGEST_SOURCES = ("crypto", "stocks", "weather")

# sort key → (column label, value of an endpoint row, ascending?)
SORTS: dict[str, tuple[str, str, bool]] = {
    "endpoint": ("Endpoint", "endpoint", True),
    "requests": ("Requests", "requests", False),
    "errors": ("5xx %", "error_rate", False),
    "client_errors": ("4xx %", "client_error_rate", False),
    "p50": ("p50 ms", "p50_ms", False),
    "p95": ("p95 ms", "p95_ms", False),
    "p99": ("p99 ms", "p99_ms", False),
}


def sorted_endpoints(endpoints: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """The rows by `sort` (unknown: by requests), unknown values last, ties by requests."""
    _, field, ascending = SORTS.get(sort, SORTS["requests"])
    known = [e for e in endpoints if e.get(field) is not None]
    unknown = [e for e in endpoints if e.get(field) is None]
    if field == "endpoint":
        known.sort(key=lambda e: (e["endpoint"], e.get("method", "")))
    else:
        known.sort(key=lambda e: (e[field], e.get("requests", 0)), reverse=not ascending)
    return known + unknown


def _share(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


def series_view(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of the time-series tables, and the charts' data (epoch seconds, columns)."""
    bucket_minutes = max(int(data.get("bucket_seconds") or 60), 1) / 60
    ingest = {s["source"]: s.get("series") or [] for s in data.get("ingest") or []}
    backtests = (data.get("backtests") or {}).get("series") or []
    rows: list[dict[str, Any]] = []
    for index, bucket in enumerate(data.get("series") or []):
        requests = int(bucket.get("requests") or 0)
        rows.append(
            {
                "t": bucket["t"],
                "requests": requests,
                "rate": requests / bucket_minutes,
                "errors_pct": _share(int(bucket.get("errors") or 0), requests),
                "client_errors_pct": _share(int(bucket.get("client_errors") or 0), requests),
                "p95_ms": bucket.get("p95_ms"),
                "ingest": {
                    name: (series[index]["rows"] if index < len(series) else 0)
                    for name, series in ingest.items()
                },
                "jobs": backtests[index]["jobs"] if index < len(backtests) else 0,
            }
        )
    times = [parse_time(r["t"]) for r in rows]
    chart = {
        "bucketSeconds": int(data.get("bucket_seconds") or 60),
        "t": [int(t.timestamp()) if t else None for t in times],
        "rate": [round(r["rate"], 3) for r in rows],
        "errors": [r["errors_pct"] for r in rows],
        "clientErrors": [r["client_errors_pct"] for r in rows],
        "p95": [r["p95_ms"] for r in rows],
        "ingest": {name: [r["ingest"].get(name, 0) for r in rows] for name in ingest},
        "jobs": [r["jobs"] for r in rows],
    }
    return rows, chart


def performance_view(data: dict[str, Any], sort: str) -> dict[str, Any]:
    rows, chart = series_view(data)
    ingest = [
        {**s, "lag_words": duration_words(s.get("lag_seconds"))} for s in data.get("ingest") or []
    ]
    return {
        "window": data.get("window"),
        "start": data.get("start"),
        "end": data.get("end"),
        "bucket_words": duration_words(data.get("bucket_seconds")),
        "overall": data.get("overall") or {},
        "endpoints": sorted_endpoints(list(data.get("endpoints") or []), sort),
        "rows": rows,
        "chart": chart,
        "ingest": ingest,
        "ingest_names": list(chart["ingest"]),
        "backtests": data.get("backtests") or {},
    }


@router.get("/performance")
async def performance(
    page: PageDep,
    window: str = Query("1h", max_length=32),
    sort: str = Query("requests", max_length=32),
) -> Response:
    sort = sort if sort in SORTS else "requests"
    context: dict[str, Any] = {
        "windows": WINDOWS,
        "selected": window,
        "sort": sort,
        "sorts": SORTS,
        "scripts": ["js/performance.js"],
    }
    return await ops_page(
        page,
        "performance.html",
        title="Performance",
        path="/api/performance",
        params={"window": window},
        view=lambda data: performance_view(data, sort),
        failed="The performance figures",
        **context,
    )
