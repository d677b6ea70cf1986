"""What the long-lived backtest requests of one gateway process share: the batch
readers (one Redis reader per batch), the caps on concurrent event streams and
awaited runs, and their admission (a full cap answers 429 with Retry-After and
a `detail` naming the limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ticktide_common.logging import get_logger
from ticktide_common.principal import Principal
from ticktide_gateway.backtests.batch_reader import BatchReaderHub
from ticktide_gateway.backtests.stream_limits import ConcurrencyLimit, Lease, LimitReached

__all__ = ["LiveBatches", "LiveDep", "RETRY_AFTER_SECONDS", "admit", "get_live"]

log = get_logger(__name__)

# What a refused client is told to wait: streams and runs last seconds to minutes.
RETRY_AFTER_SECONDS = 10


@dataclass(frozen=True)
class LiveBatches:
    hub: BatchReaderHub
    streams: ConcurrencyLimit
    runs: ConcurrencyLimit
    recheck_seconds: float  # how often an open stream re-checks its credential


def admit(limit: ConcurrencyLimit, principal: Principal) -> Lease:
    """A lease of `limit` for the caller, or 429 with Retry-After."""
    try:
        return limit.acquire(principal.user_id)
    except LimitReached as exc:
        log.warning(
            "backtest.limit_reached", limit=exc.limit, scope=exc.scope, user_id=principal.user_id
        )
        raise HTTPException(
            429,
            f"{exc}; close one or retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc


async def get_live(request: Request) -> LiveBatches:
    return request.state.live_batches  # type: ignore[no-any-return]


LiveDep = Annotated[LiveBatches, Depends(get_live)]
