"""What the admin data routes answer: a queued backfill and an ingest job's
progress (the quality reports are their domains': `CryptoQuality`, `StockQuality`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from ticktide_gateway.schemas import ResponseModel

__all__ = [
    "ArchiveAccepted",
    "ArchiveBundleAccepted",
    "BackfillAccepted",
    "BundledFile",
    "IngestJob",
    "IngestJobs",
]


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


class ArchiveAccepted(BackfillAccepted):
    """202 of an archive upload: the job (already `fetched`: its candles are
    published) and what the file held."""

    symbol: str
    interval: Literal["1h", "4h", "1d"]
    candles: int = Field(description="candles in the file, all published")
    checksum_verified: bool = Field(description="a sha256 was given and matched the body")


class BundledFile(ResponseModel):
    """One archive of an accepted bundle: the job its candles belong to."""

    filename: str
    job_id: uuid.UUID
    candles: int = Field(description="candles in the file, all published")
    checksum_verified: bool = Field(description="its .CHECKSUM was in the bundle and matched")


class ArchiveBundleAccepted(ResponseModel):
    """202 of a bundle upload: one job per series, and each file's job."""

    jobs: list[ArchiveAccepted]
    files: list[BundledFile]


class IngestJobs(ResponseModel):
    """Many ingest jobs at once; unknown ids are left out."""

    jobs: list[IngestJob]
