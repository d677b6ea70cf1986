"""Unit tests of the heartbeat publisher with a bus that only records (or fails)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ticktide_common.errors import PublishError
from ticktide_common.heartbeat import HeartbeatPublisher, check_outcomes
from ticktide_common.messages import BusMessage, ServiceHeartbeatV1


class RecordingBus:
    publish_timeout = 15.0

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[ServiceHeartbeatV1] = []
        self.failures = failures

    async def publish(self, message: BusMessage, *, timeout: float | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise PublishError("broker away")
        assert isinstance(message, ServiceHeartbeatV1)
        self.sent.append(message)


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionError("no database")


def publisher(bus: RecordingBus, checks: dict[str, Any], interval: float) -> HeartbeatPublisher:
    return HeartbeatPublisher(
        bus,  # type: ignore[arg-type]
        service="writer",
        version="9.9",
        checks=lambda: checks,
        interval=interval,
    )


def test_check_outcomes_drop_latencies() -> None:
    assert check_outcomes({"postgres": "ok (1.2 ms)", "rabbitmq": "error: gone"}) == {
        "postgres": "ok",
        "rabbitmq": "error: gone",
    }


async def test_a_beat_carries_identity_and_checks() -> None:
    bus = RecordingBus()
    beats = publisher(bus, {"postgres": ok, "rabbitmq": broken}, 10.0)
    message = await beats.beat()
    assert message == bus.sent[0]
    assert (message.service, message.version, message.pid) == ("writer", "9.9", os.getpid())
    assert message.instance == beats.instance and message.started_at == beats.started_at
    assert message.ready is False and message.status == "running"
    assert message.checks["postgres"] == "ok"
    assert message.checks["rabbitmq"].startswith("error: ConnectionError")


async def test_beats_go_on_after_a_failed_publish_and_end_with_stopping() -> None:
    bus = RecordingBus(failures=2)
    beats = publisher(bus, {"postgres": ok}, 0.01)
    beats.start()
    for _ in range(200):
        if len(bus.sent) >= 2:
            break
        await asyncio.sleep(0.01)
    await beats.stop()
    assert len(bus.sent) >= 3
    assert all(m.status == "running" and m.ready for m in bus.sent[:-1])
    assert (bus.sent[-1].status, bus.sent[-1].ready) == ("stopping", False)
    assert bus.sent[-1].checks == {"postgres": "ok"}
    assert len({m.instance for m in bus.sent}) == 1


async def test_stop_survives_a_broker_that_is_gone() -> None:
    bus = RecordingBus(failures=1)
    beats = publisher(bus, {}, 10.0)
    await beats.stop()  # the stopping beat fails: logged, not raised
    assert bus.sent == []
