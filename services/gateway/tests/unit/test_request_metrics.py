"""Unit tests of the request-metrics buffer: batches, bounds, retry after a failure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ticktide_gateway.error_handlers import describe_validation_errors
from ticktide_gateway.request_metrics import MetricRow, MetricsBuffer

T = datetime(2024, 1, 1, tzinfo=UTC)


def row(i: int) -> MetricRow:
    return ("/api/crypto/prices", "GET", float(i), 200, T)


async def test_flush_writes_one_batch_and_a_failure_keeps_rows() -> None:
    batches: list[list[MetricRow]] = []
    failing = True

    async def write(rows: Sequence[MetricRow]) -> None:
        if failing:
            raise ConnectionError("database away")
        batches.append(list(rows))

    buffer = MetricsBuffer(flush_rows=100, flush_seconds=3600, max_rows=5)
    buffer._flush = write  # flush directly, without the background task
    for i in range(3):
        buffer.add(row(i))
    await buffer.flush()
    assert batches == []
    for i in range(3, 7):
        buffer.add(row(i))  # bounded: the oldest are dropped
    failing = False
    await buffer.flush()
    assert [r[2] for r in batches[0]] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert buffer.batches_written == 1
    await buffer.flush()
    assert len(batches) == 1


def test_validation_errors_are_described_by_parameter() -> None:
    detail, items = describe_validation_errors(
        [
            {"loc": ("query", "interval"), "msg": "Input should be '1h', '4h' or '1d'"},
            {"loc": ("body",), "msg": "JSON decode error"},
        ]
    )
    assert detail == (
        "query parameter 'interval': Input should be '1h', '4h' or '1d'; "
        "request body: JSON decode error"
    )
    assert items[0]["field"] == "query parameter 'interval'"
