"""The performance page's answer: request latencies, ingest and backtest throughput."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ticktide_gateway.schemas import ResponseModel

Window = Literal["1h", "24h", "7d"]


class Latencies(ResponseModel):
    requests: int
    requests_per_minute: float = Field(description="requests / minutes of the window")
    errors_5xx: int
    errors_4xx: int
    error_rate: float | None = Field(description="share of requests answered 5xx (0..1)")
    client_error_rate: float | None = Field(description="share of requests answered 4xx (0..1)")
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class EndpointFigures(Latencies):
    endpoint: str = Field(description="the route template, e.g. /api/crypto/prices")
    method: str


class RequestBucket(ResponseModel):
    t: datetime = Field(description="the bucket's start")
    requests: int
    errors: int = Field(description="answered 5xx")
    client_errors: int = Field(description="answered 4xx")
    p95_ms: float | None = Field(description="null for a bucket without requests")


class IngestBucket(ResponseModel):
    t: datetime
    rows: int = Field(description="rows in the batches the writer committed")
    batches: int


class IngestSource(ResponseModel):
    source: str = Field(description="crypto, stocks or weather")
    table: str
    rows: int = Field(description="rows committed in the window")
    batches: int
    rows_per_minute: float
    last: datetime | None = Field(description="time of the newest stored row")
    lag_seconds: float | None = Field(description="the window's end minus `last`")
    simulated: bool = Field(description="the newest rows are simulated data")
    series: list[IngestBucket]


class BacktestBucket(ResponseModel):
    t: datetime
    jobs: int = Field(description="jobs finished: done + failed + skipped")
    done: int
    failed: int
    skipped: int


class BacktestThroughput(ResponseModel):
    per_worker: bool = Field(description="false: figures are for all workers together")
    note: str
    jobs: int
    jobs_per_minute: float
    series: list[BacktestBucket]


class Performance(ResponseModel):
    window: Window
    start: datetime
    end: datetime
    bucket_seconds: int
    overall: Latencies = Field(description="every request of the window")
    endpoints: list[EndpointFigures] = Field(description="most requested first")
    series: list[RequestBucket] = Field(description="every bucket of the window, oldest first")
    ingest: list[IngestSource]
    backtests: BacktestThroughput
