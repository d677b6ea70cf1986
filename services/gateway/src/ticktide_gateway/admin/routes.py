"""Admin routes of the data: the quality of a crypto series and the gaps of a
stock, backfills of a crypto series, a stock or a weather location (answered 202
with the job), and the progress of an ingest job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from ticktide_common.dates import day_start
from ticktide_common.errors import PublishError
from ticktide_common.jobs import get_job_progress, request_backfill
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    CryptoBackfillRequestedV1,
    StocksBackfillRequestedV1,
    WeatherBackfillRequestedV1,
)
from ticktide_gateway.admin.schemas import BackfillAccepted, IngestJob
from ticktide_gateway.auth import AdminPrincipal, GuardedRoute, require_admin
from ticktide_gateway.cache import JSON
from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.quality import quality_report
from ticktide_gateway.crypto.schemas import (
    INTERVAL_STEPS,
    BackfillRequest,
    CryptoQuality,
    SeriesQuery,
    check_backfill_range,
)
from ticktide_gateway.deps import BusDep, PoolDep, SettingsDep, SymbolsDep
from ticktide_gateway.serialization import json_bytes
from ticktide_gateway.stocks import repository as stocks_repository
from ticktide_gateway.stocks.bodies import stock_gaps_body
from ticktide_gateway.stocks.routes import find_stock
from ticktide_gateway.stocks.schemas import (
    StockQuality,
    StockQuery,
    StocksBackfillRequest,
    check_stocks_backfill,
)
from ticktide_gateway.weather.routes import resolve_location
from ticktide_gateway.weather.schemas import WeatherBackfillRequest, check_weather_backfill

__all__ = ["router"]

router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)], route_class=GuardedRoute)

log = get_logger(__name__)

BACKFILL_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": BackfillAccepted},
    404: {"description": "unknown symbol or location"},
    422: {"description": "bad body, start not before end, range too large, or outside the history"},
    503: {"description": "the message bus did not take the command"},
}


def _accepted(job_id: uuid.UUID) -> JSONResponse:
    return JSONResponse(
        {"job_id": str(job_id), "status_url": f"/api/admin/ingest/jobs/{job_id}"},
        status_code=202,
    )


def _bus_unavailable(what: str, exc: PublishError) -> HTTPException:
    log.error("backfill.publish_failed", what=what, error=str(exc))
    return HTTPException(503, "the message bus did not accept the backfill; try again shortly")


@router.get(
    "/stocks/quality",
    tags=["stocks", "admin"],
    summary="Open and refilled gaps (missing trading sessions) of one stock",
    responses={200: {"model": StockQuality}},
)
async def stock_quality(query: Annotated[StockQuery, Query()], pool: PoolDep) -> Response:
    """Gaps are missing sessions per the exchange's calendar (weekends and holidays
    are not gaps), found by ingest-stocks; `open` and `refilled` count sessions."""
    stock = await find_stock(pool, query.symbol)
    gaps = await stocks_repository.stock_gaps(pool, stock.id)
    return Response(
        stock_gaps_body({"symbol": stock.symbol, "exchange": stock.exchange}, gaps),
        media_type=JSON,
    )


@router.post(
    "/admin/ingest/stocks/backfill",
    status_code=202,
    tags=["admin", "ingest", "stocks"],
    summary="Queue a backfill of one stock's daily bars from its exchange",
    responses=BACKFILL_RESPONSES,
)
async def stocks_backfill(
    request: StocksBackfillRequest,
    principal: AdminPrincipal,
    settings: SettingsDep,
    pool: PoolDep,
    bus: BusDep,
) -> JSONResponse:
    """Trading days in [start, end) (dates); the exchange is the stock's. Answers
    202 with the job id at once; follow it at `status_url`."""
    check_stocks_backfill(
        request.start,
        request.end,
        settings.max_backfill_days,
        earliest=settings.stocks_history_start,
        now=datetime.now(UTC),
        ahead=timedelta(days=settings.backfill_max_ahead_days),
    )
    stock = await find_stock(pool, request.symbol)
    try:
        job_id = await request_backfill(
            pool,
            bus,
            StocksBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol=stock.symbol,
                exchange=stock.exchange,
                start=request.start,
                end=request.end,
                requested_by=principal.username,
            ),
        )
    except PublishError as exc:
        raise _bus_unavailable(stock.symbol, exc) from exc
    return _accepted(job_id)


@router.post(
    "/admin/ingest/weather/backfill",
    status_code=202,
    tags=["admin", "ingest", "weather"],
    summary="Queue a backfill of one location's hourly weather history",
    responses=BACKFILL_RESPONSES,
)
async def weather_backfill(
    request: WeatherBackfillRequest,
    principal: AdminPrincipal,
    settings: SettingsDep,
    pool: PoolDep,
    bus: BusDep,
    directory: SymbolsDep,
) -> JSONResponse:
    """Hours in [start, end), widened to whole hours (UTC). Answers 202 with the
    job id at once; follow it at `status_url`."""
    start, end = check_weather_backfill(
        request.start,
        request.end,
        settings.max_weather_backfill_days,
        earliest=settings.weather_history_start,
        now=datetime.now(UTC),
        ahead=timedelta(days=settings.backfill_max_ahead_days),
    )
    location = await resolve_location(pool, request.location, directory)
    try:
        job_id = await request_backfill(
            pool,
            bus,
            WeatherBackfillRequestedV1(
                job_id=uuid.uuid4(),
                location=location,
                start=start,
                end=end,
                requested_by=principal.username,
            ),
        )
    except PublishError as exc:
        raise _bus_unavailable(location, exc) from exc
    return _accepted(job_id)


@router.get(
    "/crypto/quality",
    tags=["crypto", "admin"],
    summary="Expected, present, missing and refilled candles; open holes",
    responses={200: {"model": CryptoQuality}},
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
    responses={202: {"model": BackfillAccepted}},
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
        job_id = await request_backfill(
            pool,
            bus,
            CryptoBackfillRequestedV1(
                job_id=uuid.uuid4(),
                symbol=request.symbol,
                interval=request.interval,
                start=start,
                end=end,
                requested_by=principal.username,
            ),
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
    "/admin/ingest/jobs/{job_id}",
    tags=["admin", "ingest"],
    summary="Progress of one ingest job",
    responses={200: {"model": IngestJob}, 404: {"description": "no such job"}},
)
async def ingest_job(job_id: uuid.UUID, pool: PoolDep) -> JSONResponse:
    progress = await get_job_progress(pool, job_id)
    if progress is None:
        raise HTTPException(404, f"no ingest job {job_id}")
    return JSONResponse(progress.as_json())
