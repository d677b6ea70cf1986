"""Unit tests of `/api/services`' arithmetic: staleness, the rows kept from beats,
the web service's probed row, queue rows, and reading the management API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ticktide_common.messages import ServiceHeartbeatV1
from ticktide_common.topology import GATEWAY_HEARTBEATS, WRITER_CANDLES, Topology
from ticktide_gateway.health.queues import management_api, management_depths
from ticktide_gateway.health.services import (
    QueueDepth,
    instance_rows,
    is_stale,
    last_seen_of,
    probed_instance,
    queue_rows,
    stored_beat,
)
from ticktide_gateway.settings import GatewaySettings

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def beat(sent_at: datetime, **changes: Any) -> ServiceHeartbeatV1:
    fields: dict[str, Any] = {
        "service": "writer",
        "instance": uuid.uuid4(),
        "host": "box",
        "pid": 42,
        "version": "0.1.0",
        "started_at": sent_at - timedelta(minutes=5),
        "sent_at": sent_at,
        "interval_seconds": 10.0,
        "ready": True,
        "checks": {"postgres": "ok", "rabbitmq": "ok"},
    }
    return ServiceHeartbeatV1(**{**fields, **changes})


@pytest.mark.parametrize(
    ("age", "stale"),
    [(0.0, False), (29.9, False), (30.0, False), (30.1, True), (3600.0, True)],
)
def test_stale_after_three_periods(age: float, stale: bool) -> None:
    assert is_stale(NOW - timedelta(seconds=age), NOW, 10.0) is stale


def test_never_seen_is_stale() -> None:
    assert is_stale(None, NOW, 10.0)


def test_last_seen_is_never_later_than_received() -> None:
    ahead = NOW + timedelta(minutes=10)
    assert last_seen_of(ahead, NOW) == NOW
    behind = NOW - timedelta(seconds=50)
    assert last_seen_of(behind, NOW) == behind


def test_rows_from_stored_beats() -> None:
    fresh = stored_beat(beat(NOW - timedelta(seconds=5)), NOW)
    silent = stored_beat(beat(NOW - timedelta(seconds=45), service="auth"), NOW)
    forgotten = stored_beat(beat(NOW - timedelta(hours=2), service="auth"), NOW)
    stopping = stored_beat(beat(NOW - timedelta(seconds=1), status="stopping"), NOW)
    rows = instance_rows(
        [fresh, silent, forgotten, stopping, {"not": "a beat"}], NOW, heartbeat_seconds=10.0
    )
    # by service, host, then start (the stopping instance started 4 s later)
    assert [(r.service, r.stale, r.ready, r.status) for r in rows] == [
        ("auth", True, True, "running"),
        ("writer", False, True, "running"),
        ("writer", False, False, "stopping"),
    ]
    by_instance = {r.instance: r for r in rows}
    row = by_instance[fresh["instance"]]
    assert (row.host, row.pid, row.version, row.via) == ("box", 42, "0.1.0", "heartbeat")
    assert row.checks == {"postgres": "ok", "rabbitmq": "ok"}
    assert row.last_seen == NOW - timedelta(seconds=5)


def test_an_instance_announcing_a_longer_period_is_judged_by_it() -> None:
    slow = stored_beat(beat(NOW - timedelta(seconds=100), interval_seconds=60.0), NOW)
    (row,) = instance_rows([slow], NOW, heartbeat_seconds=10.0)
    assert not row.stale


def test_stored_beat_is_json() -> None:
    kept = stored_beat(beat(NOW), NOW)
    assert json.loads(json.dumps(kept))["last_seen"] == NOW.isoformat()
    assert "message_id" not in kept


def test_probed_web_tolerates_a_bare_health_body() -> None:
    row = probed_instance("web", "127.0.0.1", {"status": "ok"}, NOW)
    assert (row.service, row.instance, row.pid, row.version, row.started_at) == (
        "web",
        None,
        None,
        None,
        None,
    )
    assert row.ready and not row.stale and row.via == "probe"
    full = probed_instance(
        "web",
        "127.0.0.1",
        {
            "service": "web",
            "version": "1.2",
            "instance": "abc",
            "pid": 7,
            "started_at": "2025-03-01T11:00:00+00:00",
        },
        NOW,
    )
    assert (full.instance, full.pid, full.version) == ("abc", 7, "1.2")
    assert full.started_at == NOW - timedelta(hours=1)


def test_queue_rows_follow_the_topology() -> None:
    topology = Topology("pfx", queues=(WRITER_CANDLES, GATEWAY_HEARTBEATS))
    rows = queue_rows(
        topology,
        {
            "pfx.writer.candles": QueueDepth(3, 1),
            "pfx.writer.candles.dlq": QueueDepth(2, 0),
            "pfx.gateway.heartbeats.dlq": None,
        },
    )
    assert [r.model_dump() for r in rows] == [
        {
            "name": "pfx.writer.candles",
            "messages": 3,
            "unacknowledged": None,
            "consumers": 1,
            "dead_letters": 2,
            "missing": False,
        },
        {
            "name": "pfx.gateway.heartbeats",
            "messages": None,
            "unacknowledged": None,
            "consumers": None,
            "dead_letters": None,
            "missing": True,
        },
    ]


@pytest.mark.parametrize(
    ("amqp_url", "configured", "expected"),
    [
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            "",
            ("http://127.0.0.1:15672", "guest", "guest", "/"),
        ),
        (
            "amqps://svc:p%40ss@broker.example:5671/prod",
            "",
            ("https://broker.example:15671", "svc", "p@ss", "prod"),
        ),
        (
            "amqp://svc:secret@broker/",
            "http://admin:root@mgmt.example:8080/rabbit/",
            ("http://mgmt.example:8080/rabbit", "admin", "root", "/"),
        ),
    ],
)
def test_management_endpoint(amqp_url: str, configured: str, expected: tuple[str, ...]) -> None:
    settings = GatewaySettings(
        amqp_url=amqp_url,
        rabbitmq_management_url=configured,
        _env_file=None,  # type: ignore[call-arg]
    )
    api = management_api(settings)
    assert api is not None
    assert (api.base_url, api.username, api.password, api.vhost) == expected


def test_management_can_be_switched_off() -> None:
    settings = GatewaySettings(rabbitmq_management_url="off", _env_file=None)  # type: ignore[call-arg]
    assert management_api(settings) is None


async def test_management_listing_is_one_filtered_request() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "name": "pfx.writer.candles",
                        "messages_ready": 5,
                        "messages_unacknowledged": 2,
                        "consumers": 1,
                    },
                    {"name": "pfx.writer.candles.dlq"},  # stats not emitted yet
                ],
                "page": 1,
            },
        )

    settings = GatewaySettings(_env_file=None)  # type: ignore[call-arg]
    api = management_api(settings)
    assert api is not None
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        depths = await management_depths(http, api, Topology("pfx"), timeout=1.0)
    assert depths == {
        "pfx.writer.candles": QueueDepth(5, 1, 2),
        "pfx.writer.candles.dlq": QueueDepth(0, 0, 0),
    }
    (request,) = seen
    assert request.url.raw_path.startswith(b"/api/queues/%2F?")
    assert request.url.params["name"] == r"^pfx\."
    assert request.url.params["use_regex"] == "true"
    assert request.headers["authorization"].startswith("Basic ")
