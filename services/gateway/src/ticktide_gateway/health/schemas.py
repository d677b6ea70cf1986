"""What `GET /api/health` answers (200 when everything is ok, 503 otherwise, the
same body either way): the summary anonymous callers get, or the full report
(admins, and callers on the gateway's own port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ticktide_gateway.schemas import ResponseModel

__all__ = [
    "ServiceStatus",
    "PublicHealth",
    "ServiceHealth",
    "DependencyHealth",
    "BacktestWorkers",
    "BacktestWorkersError",
    "HealthReport",
    "HealthAnswer",
]

Overall = Literal["ok", "degraded"]


class ServiceStatus(ResponseModel):
    status: str = Field(description="ok, degraded or down")


class PublicHealth(ResponseModel):
    """The anonymous answer: nothing that names an address, a version or an error."""

    status: Overall
    services: dict[str, ServiceStatus]


class ServiceHealth(ResponseModel):
    """One service: its own /health and /ready answers (or what went wrong asking)."""

    status: str = Field(description="ok, degraded (not ready) or down")
    url: str | None = Field(None, description="where it was asked (not for the gateway itself)")
    latency_ms: float | None = Field(None, description="both probes (not for the gateway)")
    version: str | None = Field(None, description="as its /health says")
    health: Any = Field(description="its /health body, or {error}")
    ready: Any = Field(description="its /ready body, or {error}")


class DependencyHealth(ResponseModel):
    status: Literal["ok", "down"]
    detail: str


class BacktestWorkers(ResponseModel):
    """Informational: workers scale from zero."""

    consumers: int
    jobs_waiting: int


class BacktestWorkersError(ResponseModel):
    error: str


class HealthReport(ResponseModel):
    status: Overall
    services: dict[str, ServiceHealth]
    dependencies: dict[str, DependencyHealth]
    backtest_workers: BacktestWorkers | BacktestWorkersError


HealthAnswer = HealthReport | PublicHealth


class InstanceRow(ResponseModel):
    service: str
    instance: str | None
    host: str | None
    pid: int | None
    version: str | None
    started_at: datetime | None
    last_seen: datetime | None
    ready: bool
    checks: dict[str, str]
    stale: bool
    status: Literal["running", "stopping", "unreachable"]
    via: Literal["heartbeat", "probe"]


class QueueRow(ResponseModel):
    name: str
    messages: int | None  # ready to be delivered
    unacknowledged: int | None  # delivered, not yet acked (known from the management API only)
    consumers: int | None
    dead_letters: int | None  # ready in its `.dlq`
    missing: bool = False


class ServicesReport(ResponseModel):
    instances: list[InstanceRow]
    queues: list[QueueRow]
    source: Literal["management", "declare"]
    queues_error: str | None = None
