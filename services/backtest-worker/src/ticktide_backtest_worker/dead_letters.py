"""The consumer of `backtest-worker.jobs.dlq`: jobs that were rejected as
permanently failing or hit the queue's delivery limit. Each is recorded as a
failed job and announced as an `error` event, so its batch still ends with a
summary instead of waiting for a job that will never finish."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import ValidationError

from ticktide_common.bus import Bus
from ticktide_common.logging import get_logger
from ticktide_common.messages import BacktestJobV1
from ticktide_common.topology import BACKTEST_WORKER_JOBS

__all__ = ["consume_dead_jobs", "dead_letter_reason"]

log = get_logger(__name__)

DeadJobHandler = Callable[[BacktestJobV1, str], Awaitable[None]]


def dead_letter_reason(headers: dict[str, object] | None) -> str:
    """A readable reason from RabbitMQ's `x-death` / `x-first-death-reason` headers."""
    headers = headers or {}
    reason = headers.get("x-first-death-reason")
    deaths = headers.get("x-death")
    count = None
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        reason = reason or deaths[0].get("reason")
        count = deaths[0].get("count")
    if isinstance(reason, bytes):
        reason = reason.decode()
    if reason == "delivery_limit":
        return "the job failed on every delivery until the delivery limit; see worker logs"
    if reason == "rejected":
        return "the job failed permanently (rejected by a worker); see worker logs"
    return f"the job was dead-lettered ({reason or 'unknown reason'}, count {count})"


async def consume_dead_jobs(bus: Bus, handler: DeadJobHandler, prefetch: int) -> AbstractChannel:
    channel = await bus.connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.declare_queue(
        bus.topology.dlq_name(BACKTEST_WORKER_JOBS),
        durable=True,
        arguments={"x-queue-type": "quorum"},
    )

    async def on_message(incoming: AbstractIncomingMessage) -> None:
        try:
            job = BacktestJobV1.model_validate_json(incoming.body)
        except ValidationError:
            log.error("backtest.dead_letter_malformed")
            await incoming.ack()  # nothing to attribute it to; it stays in the logs
            return
        try:
            await handler(job, dead_letter_reason(dict(incoming.headers or {})))
        except Exception as exc:
            log.warning("backtest.dead_letter_retry", error=repr(exc))
            await asyncio.sleep(1.0)
            await incoming.nack(requeue=True)
        else:
            await incoming.ack()

    await queue.consume(on_message)
    return channel
