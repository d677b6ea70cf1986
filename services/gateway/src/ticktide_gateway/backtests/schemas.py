"""What the backtest routes answer, as pydantic models declared on each route, so
`/api/openapi.json` documents every response. They describe the bodies exactly as
they are built (field names, nullability); a route that builds a large body itself
(a batch's status, a run's result) declares its model in `responses` and is not
re-validated on the way out.

Request bodies are in `planning.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

__all__ = [
    "BatchCancelled",
    "BatchItem",
    "BatchJobs",
    "BatchPage",
    "BatchResult",
    "BatchStatus",
    "BatchSubmitted",
    "EventStream",
    "JobError",
    "RunResult",
    "StrategyInfo",
    "Trade",
]

Metrics = dict[str, float | int | None]


class EventStream(StreamingResponse):
    """The media type of the SSE routes, for the document only: they return their own
    stream response (`sse.py`)."""

    media_type = "text/event-stream"


class StrategyInfo(BaseModel):
    description: str
    parameters: dict[str, Any] = Field(description="the parameters as JSON Schema")


class BatchSubmitted(BaseModel):
    batch_id: uuid.UUID
    jobs: int = Field(description="jobs the batch was split into")
    backtests: int = Field(description="backtests (parameter sets × series) in the batch")
    events_url: str = Field(description="the batch's SSE events")


class BatchCancelled(BaseModel):
    batch_id: uuid.UUID
    status: str = Field(description="cancelled, or done when it had already finished")


class BatchItem(BaseModel):
    """One batch of the caller's, with how far its jobs got."""

    batch_id: uuid.UUID
    created_at: datetime
    finished_at: datetime | None = Field(description="when its last job finished")
    status: str = Field(description="queued (not over yet), done or cancelled")
    strategy: str
    symbols: list[str]
    intervals: list[str]
    jobs: int = Field(description="jobs the batch was split into")
    done: int = Field(description="jobs finished: done, failed or skipped")
    failed: int = Field(description="jobs that failed (dead-lettered)")
    skipped: int = Field(description="jobs skipped because the batch was cancelled")
    backtests: int = Field(description="backtests (parameter sets × series) in the batch")


class BatchPage(BaseModel):
    batches: list[BatchItem] = Field(description="newest first")
    next: str | None = Field(
        description="`before` of the next page; null when this is the last page"
    )


class BatchJobs(BaseModel):
    total: int
    done: int
    failed: int
    skipped: int


class BatchResult(BaseModel):
    job_id: int
    symbol: str
    interval: str
    params: dict[str, Any] = Field(
        description="the parameter set (a walk-forward's results name their windows)"
    )
    metrics: Metrics | None


class JobError(BaseModel):
    job_id: int
    error: str | None


class BatchStatus(BaseModel):
    batch_id: uuid.UUID
    status: str = Field(description="queued (not over yet), done or cancelled")
    strategy: str
    rank_by: str
    request: dict[str, Any] = Field(description="the batch as submitted (grid normalised)")
    jobs: BatchJobs
    backtests: int
    created_at: datetime
    finished_at: datetime | None
    cancelled_at: datetime | None
    results: list[BatchResult] = Field(description="best first by rank_by, at most `limit`")
    errors: list[JobError] = Field(description="the failed jobs, by job id")


class Trade(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    entry_time: int = Field(description="epoch seconds of the entry bar's open")
    exit_time: int = Field(description="epoch seconds of the exit bar's open")
    entry_price: float | None
    exit_price: float | None
    units: float | None
    pnl: float | None
    return_: float | None = Field(alias="return")


class RunResult(BaseModel):
    metrics: Metrics | None
    trades: list[Trade]
    equity: list[tuple[int, float | None]] = Field(
        description="(epoch seconds, equity at that bar's close), thinned"
    )
