"""What `GET /api/services` answers, computed without I/O: one row per service
instance (from its latest heartbeat, or from a probe of the web service, which
has no bus), whether it is stale, and one row per queue of the topology.

An instance is stale when it was last seen more than `STALE_PERIODS` heartbeat
periods ago (the longer of the gateway's `HEARTBEAT_SECONDS` and the period the
instance itself announced). `last_seen` is the beat's `sent_at`, but never later
than when the gateway received it: a clock ahead of the gateway's cannot keep an
instance fresh, and a beat that waited in the queue counts from when it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ticktide_common.messages import ServiceHeartbeatV1
from ticktide_common.topology import Topology
from ticktide_gateway.health.schemas import InstanceRow, QueueRow, ServicesReport

__all__ = [
    "STALE_PERIODS",
    "RETENTION_SECONDS",
    "InstanceRow",
    "QueueRow",
    "ServicesReport",
    "QueueDepth",
    "is_stale",
    "last_seen_of",
    "stored_beat",
    "instance_rows",
    "probed_instance",
    "unreachable_instance",
    "queue_rows",
]

STALE_PERIODS = 3
RETENTION_SECONDS = 3600.0  # an instance not heard from for this long is forgotten


class QueueDepth(NamedTuple):
    """What the broker says of one queue that exists."""

    messages: int
    consumers: int
    unacknowledged: int | None = None


def is_stale(
    last_seen: datetime | None, now: datetime, interval_seconds: float, periods: int = STALE_PERIODS
) -> bool:
    """True when `last_seen` is older than `periods` × `interval_seconds` (or unknown)."""
    if last_seen is None:
        return True
    return now - last_seen > timedelta(seconds=periods * interval_seconds)


def last_seen_of(sent_at: datetime, received_at: datetime) -> datetime:
    return min(sent_at, received_at)


def stored_beat(beat: ServiceHeartbeatV1, received_at: datetime) -> dict[str, Any]:
    """The JSON kept per instance: the beat and when it counts as last seen."""
    return {
        **beat.model_dump(mode="json", exclude={"message_id", "produced_at"}),
        "last_seen": last_seen_of(beat.sent_at, received_at).isoformat(),
    }


def instance_rows(
    beats: Iterable[Mapping[str, Any]], now: datetime, heartbeat_seconds: float
) -> list[InstanceRow]:
    """Rows of the stored beats younger than `RETENTION_SECONDS`, by service, host, start."""
    rows: list[InstanceRow] = []
    for beat in beats:
        try:
            rows.append(_heartbeat_row(beat, now, heartbeat_seconds))
        except (KeyError, TypeError, ValueError):  # not a beat we wrote: leave it out
            continue
    rows = [row for row in rows if not is_stale(row.last_seen, now, RETENTION_SECONDS, 1)]
    rows.sort(key=lambda r: (r.service, r.host or "", r.started_at or now, r.instance or ""))
    return rows


def _heartbeat_row(beat: Mapping[str, Any], now: datetime, heartbeat_seconds: float) -> InstanceRow:
    last_seen = datetime.fromisoformat(beat["last_seen"])
    interval = max(heartbeat_seconds, float(beat.get("interval_seconds") or 0.0))
    return InstanceRow(
        service=beat["service"],
        instance=beat["instance"],
        host=beat.get("host"),
        pid=beat.get("pid"),
        version=beat.get("version"),
        started_at=beat.get("started_at"),
        last_seen=last_seen,
        ready=bool(beat.get("ready")) and beat.get("status") != "stopping",
        checks=dict(beat.get("checks") or {}),
        stale=is_stale(last_seen, now, interval),
        status="stopping" if beat.get("status") == "stopping" else "running",
        via="heartbeat",
    )


def _text(value: Any, limit: int = 255) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int | float) and value != "" else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def probed_instance(
    default_service: str, host: str | None, health: Mapping[str, Any], now: datetime
) -> InstanceRow:
    """A row of a service that answered its `/health` (200). `instance`, `pid`,
    `started_at` and `host` are taken when its JSON carries them."""
    pid = health.get("pid")
    return InstanceRow(
        service=_text(health.get("service"), 64) or default_service,
        instance=_text(health.get("instance")),
        host=_text(health.get("host")) or host,
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        version=_text(health.get("version"), 64),
        started_at=_time(health.get("started_at")),
        last_seen=now,
        ready=True,
        checks={"health": "ok"},
        stale=False,
        status="running",
        via="probe",
    )


def unreachable_instance(service: str, host: str | None, error: str) -> InstanceRow:
    return InstanceRow(
        service=service,
        instance=None,
        host=host,
        pid=None,
        version=None,
        started_at=None,
        last_seen=None,
        ready=False,
        checks={"health": error[:300]},
        stale=True,
        status="unreachable",
        via="probe",
    )


def queue_rows(topology: Topology, depths: Mapping[str, QueueDepth | None]) -> list[QueueRow]:
    """One row per queue of `topology`, in its order; `dead_letters` is the depth
    of its `.dlq`. A queue absent from `depths` (or None there) is missing."""
    rows: list[QueueRow] = []
    for spec in topology.queues:
        depth = depths.get(topology.queue_name(spec))
        dead = depths.get(topology.dlq_name(spec))
        rows.append(
            QueueRow(
                name=topology.queue_name(spec),
                messages=depth.messages if depth is not None else None,
                unacknowledged=depth.unacknowledged if depth is not None else None,
                consumers=depth.consumers if depth is not None else None,
                dead_letters=dead.messages if dead is not None else None,
                missing=depth is None,
            )
        )
    return rows
