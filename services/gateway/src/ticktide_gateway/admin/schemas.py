"""What the admin data routes answer: a queued backfill and an ingest job's
progress (the quality reports are their domains': `CryptoQuality`, `StockQuality`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from ticktide_gateway.schemas import ResponseModel

__all__ = ["BackfillAccepted", "IngestJob"]


class BackfillAccepted(ResponseModel):
    """202: the job is recorded and its command published."""

    job_id: uuid.UUID
    status_url: str = Field(description="GET it for the job's progress")


class IngestJob(ResponseModel):
    """One ingest job (`ticktide_common.jobs.JobProgress`)."""

    job_id: uuid.UUID
    kind: Literal["backfill", "archive-import", "scheduled", "gap-refill"]
    symbol: str = Field(description="a crypto pair, a stock symbol or a weather location")
    interval: str = Field(description="1h, 4h, 1d for crypto; the source's own otherwise")
    start: datetime | None
    end: datetime | None
    status: Literal["queued", "running", "fetched", "finalizing", "done", "failed"]
    batches_expected: int | None
    candles_expected: int | None
    batches_stored: int
    candles_stored: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
