"""CandleBatchV1 as the writer reads it off the wire: plain decimal strings kept
exactly, malformed prices and times refused, open times in UTC."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ticktide_common.messages import CandleBatchV1, CandleV1

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PRICES = [
    "42000.10000000",
    "0.00001234",
    "-1.5",
    "1e-8",
    "7",
    ".5",
    "5.",
    "+3.25E+2",
    "123456789012345678901234.123456789012345678901234",
]


def body(**candle_overrides: object) -> bytes:
    candles = [
        CandleV1(t=T0 + timedelta(hours=i), o=p, h=p, l=p, c=p, v=p).model_dump(mode="json")
        for i, p in enumerate(PRICES)
    ]
    candles[0].update(candle_overrides)
    message = CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol="BTCUSDT",
        interval="4h",
        source="binance-archive",
        candles=[],
    )
    return json.dumps({**message.model_dump(mode="json"), "candles": candles}).encode()


def test_decimal_strings_survive_exactly() -> None:
    batch = CandleBatchV1.model_validate_json(body())
    assert [c.o for c in batch.candles] == PRICES
    assert batch.routing_key == "crypto.candles.v1"


@pytest.mark.parametrize(
    "override",
    [
        {"o": "abc"},
        {"c": "NaN"},
        {"h": "Infinity"},
        {"l": " 1.5"},
        {"v": "1_000"},
        {"o": ""},
        {"c": "1.5.2"},
        {"t": "2024-03-01T00:00:00"},
        {"v": "9" * 65},
        {"extra": "field"},
    ],
)
def test_batch_refuses_malformed_candles(override: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CandleBatchV1.model_validate_json(body(**override))


def test_batch_keeps_the_limits_of_the_shared_model() -> None:
    raw = json.loads(body())
    raw["candles"] = raw["candles"][:1] * 5001
    with pytest.raises(ValidationError):
        CandleBatchV1.model_validate_json(json.dumps(raw))


def test_batch_gives_open_times_in_utc() -> None:
    raw = json.loads(body())
    raw["candles"][0]["t"] = "2024-03-01T02:00:00+02:00"
    wire = CandleBatchV1.model_validate_json(json.dumps(raw))
    assert wire.candles[0].t == T0 and wire.candles[0].t.tzinfo is UTC
