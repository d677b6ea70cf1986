"""Background loops of a service: a periodic call that survives a failing tick,
and the cancel-and-await of such tasks on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from ticktide_common.logging import get_logger

__all__ = ["run_periodically", "stop_tasks"]

log = get_logger(__name__)


async def run_periodically(
    action: Callable[[], Awaitable[object]], seconds: float, name: str
) -> None:
    """Call `action` every `seconds` until cancelled; a failing call is logged."""
    while True:
        try:
            await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bad tick must not stop the loop
            log.warning("periodic.failed", task=name, error=repr(exc)[:300])
        await asyncio.sleep(seconds)


async def stop_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel every task, then wait for each to end (their errors are not ours)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
