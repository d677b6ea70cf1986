"""Admin routes of the stocks and weather data: the gaps of a stock, and
backfills of a stock or a weather location (answered 202 with the job)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from ticktide_common.errors import PublishError
from ticktide_common.jobs import request_stocks_backfill, request_weather_backfill
from ticktide_common.logging import get_logger
from ticktide_gateway import stocks_repository
from ticktide_gateway.auth import AdminPrincipal, GuardedRoute, require_admin
from ticktide_gateway.cached import JSON
from ticktide_gateway.data_bodies import stock_gaps_body
from ticktide_gateway.data_validation import (
    StockQuery,
    StocksBackfillRequest,
    WeatherBackfillRequest,
    check_stocks_backfill,
    check_weather_backfill,
)
from ticktide_gateway.deps import BusDep, PoolDep, SettingsDep, SymbolsDep
from ticktide_gateway.routes.stocks import find_stock
from ticktide_gateway.routes.weather import resolve_location

__all__ = ["router"]

router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)], route_class=GuardedRoute)

log = get_logger(__name__)

BACKFILL_RESPONSES: dict[int | str, dict[str, Any]] = {
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
        job_id = await request_stocks_backfill(
            pool,
            bus,
            symbol=stock.symbol,
            exchange=stock.exchange,
            start=request.start,
            end=request.end,
            requested_by=principal.username,
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
        job_id = await request_weather_backfill(
            pool, bus, location=location, start=start, end=end, requested_by=principal.username
        )
    except PublishError as exc:
        raise _bus_unavailable(location, exc) from exc
    return _accepted(job_id)
