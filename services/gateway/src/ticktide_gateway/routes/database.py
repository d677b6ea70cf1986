"""Admin route `GET /api/user/database/info`: rows, size and time range of each
data table, and TimescaleDB chunk and compression figures where installed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from ticktide_gateway import database_repository
from ticktide_gateway.auth import GuardedRoute, require_admin
from ticktide_gateway.cached import JSON
from ticktide_gateway.deps import PoolDep
from ticktide_gateway.serialization import json_bytes

__all__ = ["router"]

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
    "`hypertable` is null unless TimescaleDB is installed and the table is a hypertable: "
    "then `chunks`, `compressed_chunks`, `before_compression_bytes` and "
    "`after_compression_bytes` (null before any compression). Counting reads whole "
    "tables: an occasional admin look, not a dashboard poll."
)


class Hypertable(BaseModel):
    chunks: int
    compressed_chunks: int
    before_compression_bytes: int | None
    after_compression_bytes: int | None


class TableFigures(BaseModel):
    table: str
    rows: int
    size_bytes: int
    size: str
    first: datetime | None
    last: datetime | None
    hypertable: Hypertable | None


class DatabaseInfo(BaseModel):
    """The answer's shape, for the OpenAPI document (the body is built by json_bytes)."""

    timescaledb: bool
    tables: list[TableFigures]


@router.get(
    "/info",
    summary="Rows, sizes and time ranges of the data tables",
    description=INFO_DESCRIPTION,
    responses={200: {"model": DatabaseInfo}},
)
async def database_info(pool: PoolDep) -> Response:
    timescaledb = await database_repository.timescaledb_installed(pool)
    tables = await database_repository.table_info(pool, timescaledb=timescaledb)
    return Response(
        json_bytes({"timescaledb": timescaledb, "tables": [t.as_json() for t in tables]}),
        media_type=JSON,
    )
