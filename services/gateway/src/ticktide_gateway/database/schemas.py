"""The database pages' bodies: `/api/user/database/info` and the admin tools'
requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ticktide_gateway.schemas import ResponseModel

TableName = Annotated[str, Field(min_length=1, max_length=200)]


class BackgroundJob(ResponseModel):
    job_id: int
    proc_name: str = Field(
        description="e.g. policy_compression, policy_refresh_continuous_aggregate"
    )
    hypertable: str | None = Field(description="the hypertable or continuous aggregate it serves")
    schedule_interval_seconds: int | None
    scheduled: bool | None
    job_status: str | None = Field(description="Scheduled, Running, Paused; null: never run")
    last_run_status: str | None = Field(description="Success or Failed; null: never run")
    last_run_started_at: datetime | None
    last_successful_finish: datetime | None
    next_start: datetime | None
    total_runs: int | None
    total_successes: int | None
    total_failures: int | None


class Hypertable(ResponseModel):
    chunks: int | None
    compressed_chunks: int | None
    before_compression_bytes: int | None = Field(description="null before any compression")
    after_compression_bytes: int | None
    jobs: list[BackgroundJob] | None = Field(description="its background jobs")
    error: str | None = Field(description="null, or the figures that failed and why")


class TableFigures(ResponseModel):
    table: str
    rows: int
    size_bytes: int
    size: str
    first: datetime | None
    last: datetime | None
    hypertable: Hypertable | None


class DatabaseInfo(ResponseModel):
    """The answer's shape, for the OpenAPI document (the body is built by json_bytes)."""

    timescaledb: bool
    tables: list[TableFigures]
    jobs: list[BackgroundJob] | None
    jobs_error: str | None


class TableEntry(ResponseModel):
    name: str
    size_bytes: int = Field(description="table, indexes and TOAST (a hypertable's chunks too)")
    size: str = Field(description="size_bytes, human-readable")
    row_estimate: int | None = Field(
        description="the planner's estimate (pg_class.reltuples); null until first analyzed"
    )
    hypertable: Hypertable | None = Field(description="null unless a TimescaleDB hypertable")


class ContinuousAggregateEntry(ResponseModel):
    name: str
    hypertable: str = Field(description="the hypertable it aggregates")
    materialized_only: bool | None


class DatabaseTables(ResponseModel):
    timescaledb: bool
    tables: list[TableEntry]
    continuous_aggregates: list[ContinuousAggregateEntry]
    jobs: list[BackgroundJob] | None = Field(
        description="every TimescaleDB background job and its last run; null without TimescaleDB"
    )
    jobs_error: str | None = Field(description="why `jobs` is null where TimescaleDB is")


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: TableName | None = Field(default=None, description="a public table; null: all")


class AnalyzedTable(ResponseModel):
    name: str
    row_estimate: int | None = Field(description="the planner's estimate after ANALYZE")


class AnalyzeResult(ResponseModel):
    analyzed: list[AnalyzedTable]
    duration_ms: float


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TableName | None = Field(default=None, description="a continuous aggregate; null: all")


class RefreshedAggregate(ResponseModel):
    name: str
    duration_ms: float


class RefreshResult(ResponseModel):
    refreshed: list[RefreshedAggregate]
    duration_ms: float
