"""The hand-back from a group-commit loop to the bus handler waiting on it."""

from __future__ import annotations

import asyncio

__all__ = ["settle"]


def settle(done: asyncio.Future[None], error: BaseException | None = None) -> None:
    """Release the waiting handler (ack) or raise `error` in it (retry / DLQ)."""
    if done.done():  # the handler was cancelled (its channel closed)
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
