"""Admin routes: data quality of a series, crypto backfills and their jobs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from ticktide_common.dates import day_start
from ticktide_common.errors import PublishError
from ticktide_common.jobs import get_job_progress, request_crypto_backfill
from ticktide_common.logging import get_logger
from ticktide_gateway import repository
from ticktide_gateway.auth import AdminPrincipal, GuardedRoute, require_admin
from ticktide_gateway.deps import BusDep, PoolDep, SettingsDep, SymbolsDep
from ticktide_gateway.quality import quality_report
from ticktide_gateway.serialization import json_bytes
from ticktide_gateway.validation import (
    INTERVAL_STEPS,
    BackfillRequest,
    SeriesQuery,
    check_backfill_range,
)

router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)], route_class=GuardedRoute)

log = get_logger(__name__)


@router.get(
    "/crypto/quality",
    tags=["crypto", "admin"],
    summary="Expected, present, missing and refilled candles; open holes",
)
async def quality(
    query: Annotated[SeriesQuery, Query()], pool: PoolDep, directory: SymbolsDep
) -> Response:
    """`expected` counts slots from the first to the last stored candle inclusive;
    `gaps` are the holes in between, computed from the stored candles now."""
    crypto_id = await directory.crypto_id(query.symbol)
    facts = await repository.series_facts(
        pool, crypto_id, query.interval, INTERVAL_STEPS[query.interval]
    )
    return Response(
        json_bytes(quality_report(query.symbol, query.interval, facts)),
        media_type="application/json",
    )


@router.post(
    "/admin/ingest/crypto/backfill",
    status_code=202,
    tags=["admin", "ingest"],
    summary="Queue a backfill of one series from the source",
)
async def crypto_backfill(
    request: BackfillRequest,
    principal: AdminPrincipal,
    settings: SettingsDep,
    pool: PoolDep,
    bus: BusDep,
) -> JSONResponse:
    """Answers 202 with the job id at once; follow it at `status_url`."""
    start, end = check_backfill_range(
        interval=request.interval,
        start=request.start,
        end=request.end,
        max_candles=settings.max_backfill_candles,
        earliest=day_start(settings.crypto_history_start),
        now=datetime.now(UTC),
        ahead=timedelta(days=settings.backfill_max_ahead_days),
    )
    try:
        job_id = await request_crypto_backfill(
            pool,
            bus,
            symbol=request.symbol,
            interval=request.interval,
            start=start,
            end=end,
            requested_by=principal.username,
        )
    except PublishError as exc:
        log.error("backfill.publish_failed", symbol=request.symbol, error=str(exc))
        raise HTTPException(
            503, "the message bus did not accept the backfill; try again shortly"
        ) from exc
    return JSONResponse(
        {"job_id": str(job_id), "status_url": f"/api/admin/ingest/jobs/{job_id}"},
        status_code=202,
    )


@router.get(
    "/admin/ingest/jobs/{job_id}", tags=["admin", "ingest"], summary="Progress of one ingest job"
)
async def ingest_job(job_id: uuid.UUID, pool: PoolDep) -> JSONResponse:
    progress = await get_job_progress(pool, job_id)
    if progress is None:
        raise HTTPException(404, f"no ingest job {job_id}")
    return JSONResponse(progress.as_json())
