"""Admin route `GET /api/user/database/info`: rows, size and time range of each
data table, and where TimescaleDB is installed each hypertable's chunks,
compression and background jobs, and every background job's last run.
Also the answer models of those figures, shared with `/api/admin/database/tables`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from ticktide_gateway.auth import GuardedRoute, require_admin
from ticktide_gateway.cache import JSON
from ticktide_gateway.database import repository as database_repository
from ticktide_gateway.database.schemas import BackgroundJob, DatabaseInfo, Hypertable
from ticktide_gateway.deps import PoolDep
from ticktide_gateway.serialization import json_bytes

__all__ = ["router", "Hypertable", "BackgroundJob"]

router = APIRouter(
    prefix="/api/user/database",
    tags=["admin", "database"],
    dependencies=[Depends(require_admin)],
    route_class=GuardedRoute,
)

INFO_DESCRIPTION = (
    "One entry per table of a fixed list ("
    + ", ".join(t.name for t in database_repository.INFO_TABLES)
    + "): exact `rows`, `size_bytes` (table, indexes and TOAST; the hypertable's size "
    "where it is one) and `size` (human-readable), `first`/`last` of its time column. "
    "`hypertable` is null when the table is not a hypertable (always so without "
    "TimescaleDB); for a hypertable: `chunks`, `compressed_chunks`, "
    "`before_compression_bytes` and `after_compression_bytes` (null before any "
    "compression), its background `jobs` (compression policy: last run status, "
    "times, counts) and `error`: null, or which of those figures could not be read "
    "and why (that figure is then null). `jobs` at the top lists every background "
    "job of TimescaleDB (null without it; `jobs_error` says why it is null where "
    "TimescaleDB is). Counting reads whole tables: an occasional admin look, not a "
    "dashboard poll."
)


@router.get(
    "/info",
    summary="Rows, sizes and time ranges of the data tables",
    description=INFO_DESCRIPTION,
    responses={200: {"model": DatabaseInfo}},
)
async def database_info(pool: PoolDep) -> Response:
    timescaledb = await database_repository.timescaledb_installed(pool)
    tables = await database_repository.table_info(pool, timescaledb=timescaledb)
    jobs, jobs_error = None, None
    if timescaledb:
        jobs, jobs_error = await database_repository.background_jobs(pool)
    body = {
        "timescaledb": timescaledb,
        "tables": [t.as_json() for t in tables],
        "jobs": jobs,
        "jobs_error": jobs_error,
    }
    return Response(json_bytes(body), media_type=JSON)
