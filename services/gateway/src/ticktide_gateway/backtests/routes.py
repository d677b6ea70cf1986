"""User routes under `/api/crypto/backtest`: strategies, batches (submit, list,
status, cancel, SSE events), a batch streamed in the answer, and one awaited backtest.
A batch belongs to the user who submitted it: anyone else gets 404."""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from ticktide_common.backtests.catalogue import LOWER_IS_BETTER, strategy_schemas
from ticktide_common.backtests.events import BatchEventLog, EventName
from ticktide_common.errors import PublishError
from ticktide_common.logging import get_logger
from ticktide_gateway.auth import (
    CurrentPrincipal,
    GuardedRoute,
    current_principal,
    principal_recheck,
)
from ticktide_gateway.backtests import repository
from ticktide_gateway.backtests.listing import BatchPage, batch_item, decode_cursor, encode_cursor
from ticktide_gateway.backtests.live import LiveDep, admit
from ticktide_gateway.backtests.planning import BacktestBatchRequest, BacktestRunRequest
from ticktide_gateway.backtests.schemas import (
    BatchCancelled,
    BatchStatus,
    BatchSubmitted,
    EventStream,
    RunResult,
    StrategyInfo,
)
from ticktide_gateway.backtests.sse import event_stream_response, valid_last_event_id
from ticktide_gateway.backtests.submission import (
    SubmissionUnavailable,
    SubmittedBatch,
    submit_batch,
)
from ticktide_gateway.deps import BusDep, PoolDep, SettingsDep

router = APIRouter(
    prefix="/api/crypto/backtest",
    tags=["backtest"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

log = get_logger(__name__)

TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"description": "too many concurrent streams or awaited runs (Retry-After says when)"}
}
# A body's symbol that matches the pattern but names no known pair (submission.py).
UNKNOWN_SYMBOL: dict[int | str, dict[str, Any]] = {404: {"description": "unknown symbol"}}
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "event"],
    "properties": {
        "event": {"type": "string", "enum": list(get_args(EventName))},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "description": "the Last-Event-ID to resume after"},
        "retry": {"type": "integer"},
    },
    "additionalProperties": False,
}
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        # OpenAPI 3.1 without `itemSchema`: the schema is one event's (how
        # schemathesis reads a stream: `data`, `event`, and `id` / `retry` when sent).
        "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        "description": "the batch's events: `id:`, `event:` (queued, result, error, "
        "progress, summary) and `data:` (JSON) of each, and keep-alive comments",
    },
    **TOO_MANY,
}


async def get_event_log(request: Request) -> BatchEventLog:
    return request.state.backtest_events  # type: ignore[no-any-return]


EventsDep = Annotated[BatchEventLog, Depends(get_event_log)]


async def _submit(
    body: BacktestBatchRequest,
    principal: CurrentPrincipal,
    pool: PoolDep,
    bus: BusDep,
    events: BatchEventLog,
    settings: SettingsDep,
    details: bool = False,
) -> SubmittedBatch:
    try:
        return await submit_batch(
            body,
            user_id=principal.user_id,
            pool=pool,
            bus=bus,
            events=events,
            settings=settings,
            details=details,
        )
    except PublishError as exc:
        log.error("backtest.publish_failed", error=str(exc))
        raise HTTPException(503, "the job queue is unavailable; try again shortly") from exc
    except SubmissionUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc


async def _owned(pool: PoolDep, batch_id: uuid.UUID, principal: CurrentPrincipal) -> Any:
    batch = await repository.owned_batch(pool, batch_id, principal.user_id)
    if batch is None:
        raise HTTPException(404, f"no backtest batch {batch_id}")
    return batch


@router.get(
    "/strategies",
    summary="Each strategy and its parameters as JSON Schema",
    response_model=dict[str, StrategyInfo],
)
async def strategies() -> dict[str, Any]:
    return strategy_schemas()


@router.post(
    "/batch",
    status_code=202,
    summary="Queue a grid of backtests; answers at once",
    response_model=BatchSubmitted,
    responses=UNKNOWN_SYMBOL,
)
async def submit(
    body: BacktestBatchRequest,
    principal: CurrentPrincipal,
    pool: PoolDep,
    bus: BusDep,
    events: EventsDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return (await _submit(body, principal, pool, bus, events, settings)).body()


@router.post(
    "/stream",
    summary="Queue a grid of backtests and stream its events",
    response_model=None,
    response_class=EventStream,
    responses={**SSE_RESPONSE, **UNKNOWN_SYMBOL},
)
async def submit_and_stream(
    request: Request,
    body: BacktestBatchRequest,
    principal: CurrentPrincipal,
    pool: PoolDep,
    bus: BusDep,
    events: EventsDep,
    settings: SettingsDep,
    live: LiveDep,
) -> Any:
    lease = admit(live.streams, principal)  # before the batch exists: a 429 queues nothing
    try:
        batch = await _submit(body, principal, pool, bus, events, settings)
        return event_stream_response(
            live.hub,
            str(batch.batch_id),
            "0",
            lifetime=settings.backtest_stream_lifetime_seconds,
            recheck=principal_recheck(request, principal),
            recheck_seconds=live.recheck_seconds,
            lease=lease,
        )
    except BaseException:
        lease.release()
        raise


@router.get(
    "/batches",
    summary="The caller's own batches, newest first, a page at a time",
    description="Keyset paging: `before` is the `next` of the previous page (opaque; "
    "null on the last page). `done` counts every finished job (done, failed or "
    "skipped) out of `jobs`.",
    response_model=BatchPage,
    responses={422: {"description": "limit out of 1..100, or a `before` that is not a cursor"}},
)
async def list_batches(
    principal: CurrentPrincipal,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> BatchPage:
    bound = decode_cursor(before) if before is not None else None
    rows = await repository.list_batches(pool, principal.user_id, limit + 1, bound)
    items = [batch_item(row) for row in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if items else None
    return BatchPage(
        batches=items,
        next=encode_cursor((last.created_at, last.batch_id)) if more and last else None,
    )


# Up to 20000 results: built as a dict and documented, not re-validated on the way out.
@router.get(
    "/batch/{batch_id}",
    summary="A batch's status and its results, best first",
    response_model=None,
    responses={200: {"model": BatchStatus, "description": "the batch"}},
)
async def batch_status(
    batch_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=20000)] = 1000,
) -> dict[str, Any]:
    batch = await _owned(pool, batch_id, principal)
    return {
        "batch_id": str(batch["id"]),
        "status": batch["status"],
        "strategy": batch["strategy"],
        "rank_by": batch["rank_by"],
        "request": json.loads(batch["request"]),
        "jobs": {
            "total": batch["total_jobs"],
            "done": batch["jobs_done"],
            "failed": batch["jobs_failed"],
            "skipped": batch["jobs_skipped"],
        },
        "backtests": batch["total_backtests"],
        "created_at": batch["created_at"].isoformat(),
        "finished_at": batch["finished_at"].isoformat() if batch["finished_at"] else None,
        "cancelled_at": batch["cancelled_at"].isoformat() if batch["cancelled_at"] else None,
        "results": await repository.batch_results(
            pool,
            batch_id,
            batch["rank_by"],
            limit,
            lower_is_better=batch["rank_by"] in LOWER_IS_BETTER,
        ),
        "errors": await repository.job_errors(pool, batch_id),
    }


@router.delete(
    "/batch/{batch_id}",
    summary="Cancel what has not run of a batch",
    response_model=BatchCancelled,
)
async def cancel(batch_id: uuid.UUID, principal: CurrentPrincipal, pool: PoolDep) -> dict[str, Any]:
    status = await repository.cancel_batch(pool, batch_id, principal.user_id)
    if status is None:
        raise HTTPException(404, f"no backtest batch {batch_id}")
    return {"batch_id": str(batch_id), "status": status}


@router.get(
    "/batch/{batch_id}/events",
    summary="The batch's events (SSE), resumable with Last-Event-ID",
    response_model=None,
    response_class=EventStream,
    responses=SSE_RESPONSE,
)
async def batch_events(
    request: Request,
    batch_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: PoolDep,
    settings: SettingsDep,
    live: LiveDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    await _owned(pool, batch_id, principal)
    return event_stream_response(
        live.hub,
        str(batch_id),
        valid_last_event_id(last_event_id),
        lifetime=settings.backtest_stream_lifetime_seconds,
        recheck=principal_recheck(request, principal),
        recheck_seconds=live.recheck_seconds,
        lease=admit(live.streams, principal),
    )


@router.post(
    "/run",
    summary="One backtest, queued to a worker and awaited",
    response_model=None,
    responses={
        200: {"model": RunResult, "description": "its metrics, trades and equity curve"},
        **TOO_MANY,
        **UNKNOWN_SYMBOL,
    },
)
async def run_one(
    body: BacktestRunRequest,
    principal: CurrentPrincipal,
    pool: PoolDep,
    bus: BusDep,
    events: EventsDep,
    settings: SettingsDep,
    live: LiveDep,
) -> Any:
    batch_request = BacktestBatchRequest(
        symbols=[body.symbol],
        intervals=[body.interval],
        start=body.start,
        end=body.end,
        strategy=body.strategy,
        grid={name: [value] for name, value in body.params.items()},
        fee=body.fee,
        slippage_bps=body.slippage_bps,
        initial_cash=body.initial_cash,
    )
    lease = admit(live.runs, principal)  # before the batch exists: a 429 queues nothing
    try:
        batch = await _submit(batch_request, principal, pool, bus, events, settings, details=True)
        batch_id = str(batch.batch_id)
        deadline = time.monotonic() + settings.backtest_run_timeout_seconds
        # Waits on the batch's shared reader: no Redis connection of its own.
        async with live.hub.subscribe(batch_id, "0") as subscription:
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    entries = await subscription.next(remaining)
                except (RedisError, OSError, TimeoutError) as exc:
                    log.error("backtest.run_read_failed", batch_id=batch_id, error=repr(exc))
                    raise HTTPException(
                        503, f"the event store is unavailable; see batch {batch_id}"
                    ) from exc
                for entry in entries:
                    if entry.event == "error":
                        error = json.loads(entry.data)["error"]
                        raise HTTPException(502, f"the backtest failed: {error}")
                    if entry.event == "summary":
                        result = await repository.run_result(pool, batch.batch_id)
                        if result is None:
                            raise HTTPException(502, "the backtest produced no result")
                        return JSONResponse(result)
        raise HTTPException(504, f"the backtest did not finish in time; see batch {batch_id}")
    finally:
        lease.release()
