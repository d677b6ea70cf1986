"""Admin tools of the /admin/database page: every table of the public schema
with its size and the planner's row estimate (and TimescaleDB's chunk and
compression figures, and the continuous aggregates, where it is installed),
ANALYZE of one table or all, and refreshing continuous aggregates.

Names in a request are looked up in the catalog first; an unknown one answers
422 and only the catalog's spelling, quoted, reaches SQL."""

from __future__ import annotations

import time

import asyncpg
from fastapi import APIRouter, Depends, HTTPException

from ticktide_common.logging import get_logger
from ticktide_gateway.auth import AdminPrincipal, GuardedRoute, require_admin
from ticktide_gateway.database import repository as database_repository
from ticktide_gateway.database.schemas import (
    AnalyzedTable,
    AnalyzeRequest,
    AnalyzeResult,
    BackgroundJob,
    ContinuousAggregateEntry,
    DatabaseTables,
    Hypertable,
    RefreshedAggregate,
    RefreshRequest,
    RefreshResult,
    TableEntry,
)
from ticktide_gateway.deps import PoolDep

__all__ = ["router"]

router = APIRouter(
    prefix="/api/admin/database",
    tags=["admin", "database"],
    dependencies=[Depends(require_admin)],
    route_class=GuardedRoute,
)

log = get_logger(__name__)

NO_TIMESCALEDB = (
    "TimescaleDB is not installed in this database, so there are no continuous "
    "aggregates to refresh"
)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


@router.get(
    "/tables",
    summary="Every table of the public schema: size, row estimate, hypertable figures",
    response_model=DatabaseTables,
)
async def database_tables(pool: PoolDep) -> DatabaseTables:
    """From the catalog only (no counting): cheap enough for a page to load.
    `continuous_aggregates` is empty and `jobs` null without TimescaleDB."""
    timescaledb = await database_repository.timescaledb_installed(pool)
    tables = await database_repository.public_tables(pool, timescaledb=timescaledb)
    aggregates = await database_repository.continuous_aggregates(pool) if timescaledb else []
    jobs, jobs_error = None, None
    if timescaledb:
        jobs, jobs_error = await database_repository.background_jobs(pool)
    return DatabaseTables(
        timescaledb=timescaledb,
        tables=[
            TableEntry(
                name=t.name,
                size_bytes=t.size_bytes,
                size=t.size,
                row_estimate=t.row_estimate,
                hypertable=Hypertable(**t.hypertable) if t.hypertable is not None else None,
            )
            for t in tables
        ],
        continuous_aggregates=[
            ContinuousAggregateEntry(
                name=a.name, hypertable=a.hypertable, materialized_only=a.materialized_only
            )
            for a in aggregates
        ],
        jobs=[BackgroundJob(**job) for job in jobs] if jobs is not None else None,
        jobs_error=jobs_error,
    )


@router.post(
    "/analyze",
    summary="ANALYZE one public table, or all of them",
    response_model=AnalyzeResult,
    responses={422: {"description": "not a table of the public schema"}},
)
async def analyze(
    request: AnalyzeRequest, pool: PoolDep, principal: AdminPrincipal
) -> AnalyzeResult:
    """Updates the planner's statistics (and so `row_estimate`); answers what was
    analyzed, the new estimates, and how long it took."""
    names = await database_repository.public_table_names(pool)
    if request.table is not None:
        if request.table not in names:
            raise HTTPException(
                422,
                f"'{request.table}' is not a table of the public schema; "
                "GET /api/admin/database/tables lists them",
            )
        names = [request.table]
    started = time.perf_counter()
    try:
        await database_repository.analyze_tables(pool, names)
    except asyncpg.UndefinedTableError as exc:  # dropped since it was listed
        raise HTTPException(409, f"a table went away while it was analyzed: {exc}") from exc
    duration = _ms(started)
    estimates = await database_repository.row_estimates(pool, names)
    log.info("database.analyzed", tables=len(names), ms=duration, by=principal.username)
    return AnalyzeResult(
        analyzed=[AnalyzedTable(name=n, row_estimate=estimates.get(n)) for n in names],
        duration_ms=duration,
    )


@router.post(
    "/refresh-aggregates",
    summary="Refresh one continuous aggregate, or all of them, over their whole range",
    response_model=RefreshResult,
    responses={
        409: {"description": "TimescaleDB is not installed"},
        422: {"description": "not a continuous aggregate of the public schema"},
    },
)
async def refresh_aggregates(
    request: RefreshRequest, pool: PoolDep, principal: AdminPrincipal
) -> RefreshResult:
    """`refresh_continuous_aggregate(name, NULL, NULL)` for each, one after the other."""
    if not await database_repository.timescaledb_installed(pool):
        raise HTTPException(409, NO_TIMESCALEDB)
    names = [a.name for a in await database_repository.continuous_aggregates(pool)]
    if request.name is not None:
        if request.name not in names:
            raise HTTPException(
                422,
                f"'{request.name}' is not a continuous aggregate; "
                "GET /api/admin/database/tables lists them",
            )
        names = [request.name]
    started = time.perf_counter()
    refreshed: list[RefreshedAggregate] = []
    for name in names:
        one = time.perf_counter()
        await database_repository.refresh_continuous_aggregate(pool, name)
        refreshed.append(RefreshedAggregate(name=name, duration_ms=_ms(one)))
    log.info("database.aggregates_refreshed", aggregates=names, by=principal.username)
    return RefreshResult(refreshed=refreshed, duration_ms=_ms(started))
