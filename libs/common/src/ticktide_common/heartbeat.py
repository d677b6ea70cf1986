"""Heartbeats of a running service instance.

Every `HEARTBEAT_SECONDS` each instance publishes a `ServiceHeartbeatV1`
(`service.heartbeat.v1`): who it is (service, a uuid made at start, host, pid,
version, start time) and how its own readiness checks went. The gateway keeps
the latest beat per instance for `GET /api/services`. A failed publish is logged
and the next beat tries again; the service never stops because of one. On
shutdown the instance says `stopping` once, before its bus closes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ticktide_common.bus import Bus
from ticktide_common.health import ReadinessCheck, run_checks
from ticktide_common.logging import get_logger
from ticktide_common.messages import ServiceHeartbeatV1, ServiceStatus
from ticktide_common.periodic import run_periodically, stop_tasks
from ticktide_common.settings import ServiceSettings

__all__ = ["HeartbeatPublisher", "start_heartbeat", "check_outcomes"]

log = get_logger(__name__)

ChecksProvider = Callable[[], Mapping[str, ReadinessCheck]]
# A beat is worth nothing once the next one is due: never wait longer than this.
MAX_CHECK_SECONDS = 2.0
STOPPING_PUBLISH_SECONDS = 2.0


def check_outcomes(report: Mapping[str, str]) -> dict[str, str]:
    """`run_checks`' report without the latencies: "ok", or what went wrong."""
    return {
        name: "ok" if result.startswith("ok") else result[:300] for name, result in report.items()
    }


class HeartbeatPublisher:
    """One instance's identity and the task that publishes its beats."""

    def __init__(
        self,
        bus: Bus,
        *,
        service: str,
        version: str,
        checks: ChecksProvider,
        interval: float,
    ) -> None:
        self.bus = bus
        self.service = service
        self.version = version
        self.checks = checks
        self.interval = interval
        self.instance = uuid.uuid4()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = datetime.now(UTC)
        self._last_checks: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Beat now, then every `interval` seconds, until `stop`."""
        self._task = asyncio.create_task(
            run_periodically(self.beat, self.interval, f"heartbeat:{self.service}"),
            name=f"heartbeat:{self.service}",
        )

    async def beat(self, status: ServiceStatus = "running") -> ServiceHeartbeatV1:
        """Run the checks and publish one beat (raises if the bus does not confirm)."""
        if status == "running":
            ready, report = await run_checks(
                self.checks(), timeout=min(MAX_CHECK_SECONDS, self.interval)
            )
            self._last_checks = check_outcomes(report)
        else:
            ready = False
        now = datetime.now(UTC)
        message = ServiceHeartbeatV1(
            service=self.service,
            instance=self.instance,
            host=self.host[:255],
            pid=self.pid,
            version=self.version[:64],
            started_at=self.started_at,
            sent_at=now,
            interval_seconds=self.interval,
            status=status,
            ready=ready,
            checks=self._last_checks,
        )
        timeout = STOPPING_PUBLISH_SECONDS if status == "stopping" else self.interval
        await self.bus.publish(message, timeout=max(1.0, min(timeout, self.bus.publish_timeout)))
        return message

    async def stop(self) -> None:
        """Stop beating and say `stopping` once; a failure is only logged."""
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None
        try:
            await self.beat("stopping")
        except Exception as exc:  # shutting down anyway: the gateway will see it go stale
            log.warning("heartbeat.stopping_failed", service=self.service, error=repr(exc))


def start_heartbeat(
    bus: Bus, settings: ServiceSettings, service: str, checks: ChecksProvider
) -> HeartbeatPublisher:
    """A started publisher for `service` on `bus`, every `settings.heartbeat_seconds`."""
    publisher = HeartbeatPublisher(
        bus,
        service=service,
        version=settings.ticktide_version,
        checks=checks,
        interval=settings.heartbeat_seconds,
    )
    publisher.start()
    log.info(
        "heartbeat.started", instance=str(publisher.instance), every=settings.heartbeat_seconds
    )
    return publisher
