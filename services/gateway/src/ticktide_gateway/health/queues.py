"""Depth and consumers of every queue of the topology, for `GET /api/services`.

Asked of RabbitMQ's management HTTP API where it answers (`RABBITMQ_MANAGEMENT_URL`,
by default `http://<AMQP_URL host>:15672` with AMQP_URL's credentials and vhost):
one request, filtered to this installation's prefix. Otherwise by a passive
`queue.declare` of each queue on one plain (not robust) channel of the gateway's
connection; a queue that does not exist is reported missing (the broker closes
the channel on it, and the next queue gets a new one).

The answer is cached in Redis for `CACHE_SECONDS` under
`<redis prefix>services:queues`, and one gateway at a time computes it (a
`SET NX` lock beside it), so however many pages poll, the broker sees at most
one question per `CACHE_SECONDS` per installation.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import aiormq.exceptions
import httpx
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.logging import get_logger
from ticktide_common.topology import Topology
from ticktide_gateway.health.services import QueueDepth, QueueRow, queue_rows
from ticktide_gateway.settings import GatewaySettings

__all__ = [
    "CACHE_SECONDS",
    "ManagementApi",
    "QueueReport",
    "management_api",
    "management_depths",
    "declared_depths",
    "queue_report",
]

log = get_logger(__name__)

CACHE_SECONDS = 2.0
MANAGEMENT_PORT, MANAGEMENT_TLS_PORT = 15672, 15671
_LOCK_SECONDS = 5.0


@dataclass(frozen=True)
class ManagementApi:
    base_url: str
    username: str
    password: str
    vhost: str


@dataclass(frozen=True)
class QueueReport:
    queues: list[QueueRow]
    source: Literal["management", "declare"]
    error: str | None = None


def management_api(settings: GatewaySettings) -> ManagementApi | None:
    """Where the management API is, with which credentials; None when switched off."""
    configured = settings.rabbitmq_management_url.strip()
    if configured.lower() == "off":
        return None
    amqp = urlsplit(settings.amqp_url)
    username = unquote(amqp.username or "guest")
    password = unquote(amqp.password or "guest")
    vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
    if configured:
        explicit = urlsplit(configured)
        if explicit.username:
            username, password = unquote(explicit.username), unquote(explicit.password or "")
        netloc = explicit.netloc.rpartition("@")[2]
        base = f"{explicit.scheme}://{netloc}{explicit.path.rstrip('/')}"
    else:
        host = amqp.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        tls = amqp.scheme == "amqps"
        port = MANAGEMENT_TLS_PORT if tls else MANAGEMENT_PORT
        base = f"{'https' if tls else 'http'}://{host}:{port}"
    return ManagementApi(base, username, password, vhost)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


async def management_depths(
    http: httpx.AsyncClient, api: ManagementApi, topology: Topology, timeout: float
) -> dict[str, QueueDepth | None]:
    """One `GET /api/queues/<vhost>` filtered to the topology's prefix (raises on failure)."""
    response = await http.get(
        f"{api.base_url}/api/queues/{quote(api.vhost, safe='')}",
        params={
            "page": "1",
            "page_size": "500",
            "name": f"^{re.escape(topology.prefix)}\\.",
            "use_regex": "true",
        },
        auth=(api.username, api.password),
        timeout=timeout,
    )
    response.raise_for_status()
    body = response.json()
    items = body.get("items", []) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ValueError("the management API answered without a list of queues")
    depths: dict[str, QueueDepth | None] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            depths[item["name"]] = QueueDepth(
                messages=_int(item.get("messages_ready")),
                consumers=_int(item.get("consumers")),
                unacknowledged=_int(item.get("messages_unacknowledged")),
            )
    return depths


async def declared_depths(bus: Bus, names: list[str]) -> dict[str, QueueDepth | None]:
    """A passive declare of each queue; a missing one is None."""

    async def plain_channel() -> aio_pika.Channel:
        # Not the connection's robust channels: those reopen themselves after the
        # broker closes them on a missing queue, and remember passive declares.
        channel = aio_pika.Channel(bus.connection, publisher_confirms=False)
        await channel.initialize()
        return channel

    depths: dict[str, QueueDepth | None] = {}
    channel = await plain_channel()
    try:
        for name in names:
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                depths[name] = None
                channel = await plain_channel()
                continue
            result = queue.declaration_result
            depths[name] = QueueDepth(result.message_count or 0, result.consumer_count or 0)
    finally:
        if not channel.is_closed:
            await channel.close()
    return depths


async def _measure(
    settings: GatewaySettings, http: httpx.AsyncClient, bus: Bus, topology: Topology, timeout: float
) -> QueueReport:
    api = management_api(settings)
    if api is not None:
        try:
            depths = await management_depths(http, api, topology, timeout)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("services.management_unavailable", url=api.base_url, error=repr(exc))
        else:
            return QueueReport(queue_rows(topology, depths), "management")
    names = [n for s in topology.queues for n in (topology.queue_name(s), topology.dlq_name(s))]
    try:
        depths = await asyncio.wait_for(declared_depths(bus, names), timeout)
    except Exception as exc:  # the broker is away: the rows say unknown, not a 500
        error = f"{type(exc).__name__}: {exc}"[:300]
        rows = [row.model_copy(update={"missing": False}) for row in queue_rows(topology, {})]
        return QueueReport(rows, "declare", error)
    return QueueReport(queue_rows(topology, depths), "declare")


async def queue_report(
    settings: GatewaySettings, redis: Redis, http: httpx.AsyncClient, bus: Bus, topology: Topology
) -> QueueReport:
    """The cached report, or a fresh one measured by at most one gateway at a time."""
    key = f"{settings.ticktide_redis_prefix}services:queues"
    lock = f"{key}:lock"
    timeout = settings.service_probe_timeout_seconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout + 1.0
    while True:
        cached = await redis.get(key)
        if cached is not None:
            body = json.loads(cached)
            queues = [QueueRow.model_validate(row) for row in body["queues"]]
            return QueueReport(queues, body["source"], body.get("error"))
        if await redis.set(lock, "1", nx=True, px=int(_LOCK_SECONDS * 1000)):
            break
        if loop.time() > deadline:  # the holder is slow or gone: measure anyway
            break
        await asyncio.sleep(0.05)
    try:
        report = await _measure(settings, http, bus, topology, timeout)
        body = {
            "queues": [row.model_dump() for row in report.queues],
            "source": report.source,
            "error": report.error,
        }
        await redis.set(key, json.dumps(body), px=int(CACHE_SECONDS * 1000))
        return report
    finally:
        await redis.delete(lock)
