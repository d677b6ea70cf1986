"""The ingest messages as they go on the wire, whatever bases they are built from:
every field each has always carried (in the order the bases give them; JSON
consumers read by name, so a message written in the order of an earlier release
is read the same), a batch's series checked strictly and its stored event's
taken as the writer sends it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel, ValidationError

from ticktide_common.messages import (
    CandleBatchV1,
    CandlesStoredV1,
    CryptoBackfillRequestedV1,
    StockPricesStoredV1,
    StockPricesV1,
    StocksBackfillRequestedV1,
    WeatherBackfillRequestedV1,
    WeatherObservationsV1,
    WeatherStoredV1,
)

# Each message's fields after `message_id` and `produced_at`, in wire order.
BATCH = "batch_id job_id"
WIRE_FIELDS: dict[type[BaseModel], str] = {
    CandleBatchV1: f"{BATCH} symbol interval source candles",
    CandlesStoredV1: f"{BATCH} rows_changed symbol interval source first_t last_t candles",
    CryptoBackfillRequestedV1: "job_id start end requested_by symbol interval",
    StockPricesV1: f"{BATCH} symbol exchange source bars",
    StockPricesStoredV1: f"{BATCH} rows_changed symbol exchange source first_date last_date bars",
    StocksBackfillRequestedV1: "job_id start end requested_by symbol exchange",
    WeatherObservationsV1: f"{BATCH} location kind source observations",
    WeatherStoredV1: f"{BATCH} rows_changed location kind source first_t last_t observations",
    WeatherBackfillRequestedV1: "job_id start end requested_by location",
}


@pytest.mark.parametrize("model", WIRE_FIELDS, ids=lambda model: model.__name__)
def test_wire_order_of_fields(model: type[BaseModel]) -> None:
    fields = ["message_id", "produced_at", *WIRE_FIELDS[model].split()]
    assert list(model.model_fields) == fields
    assert list(model.model_json_schema()["properties"]) == fields


T0 = datetime(2024, 3, 1, tzinfo=UTC)

# As releases before the shared bases wrote them (keys in that order).
EARLIER_RELEASE_JSON: dict[type[BaseModel], str] = {
    CandlesStoredV1: (
        '{"message_id":"6f1c1b3e-3f0a-4c5e-9a51-0d3c7e2b9a10","produced_at":"2024-03-01T00:00:00Z",'
        '"batch_id":"0b6a7c1e-2d4f-4e8a-9c3b-5a6d7e8f9012","job_id":null,"symbol":"BTCUSDT",'
        '"interval":"1h","source":"binance","first_t":"2024-03-01T00:00:00Z",'
        '"last_t":"2024-03-01T01:00:00Z","candles":2,"rows_changed":1}'
    ),
    CryptoBackfillRequestedV1: (
        '{"message_id":"6f1c1b3e-3f0a-4c5e-9a51-0d3c7e2b9a10","produced_at":"2024-03-01T00:00:00Z",'
        '"job_id":"0b6a7c1e-2d4f-4e8a-9c3b-5a6d7e8f9012","symbol":"BTCUSDT","interval":"1h",'
        '"start":"2024-03-01T00:00:00Z","end":"2024-03-02T00:00:00Z","requested_by":"alice"}'
    ),
    StocksBackfillRequestedV1: (
        '{"message_id":"6f1c1b3e-3f0a-4c5e-9a51-0d3c7e2b9a10","produced_at":"2024-03-01T00:00:00Z",'
        '"job_id":"0b6a7c1e-2d4f-4e8a-9c3b-5a6d7e8f9012","symbol":"NDA-FI","exchange":"OMXH",'
        '"start":"2024-03-01","end":"2024-03-08","requested_by":"system"}'
    ),
    WeatherBackfillRequestedV1: (
        '{"message_id":"6f1c1b3e-3f0a-4c5e-9a51-0d3c7e2b9a10","produced_at":"2024-03-01T00:00:00Z",'
        '"job_id":"0b6a7c1e-2d4f-4e8a-9c3b-5a6d7e8f9012","location":"Helsinki",'
        '"start":"2024-03-01T00:00:00Z","end":"2024-03-02T00:00:00Z","requested_by":"bob"}'
    ),
}


@pytest.mark.parametrize("model", EARLIER_RELEASE_JSON, ids=lambda model: model.__name__)
def test_a_message_of_an_earlier_release_reads_the_same(model: type[BaseModel]) -> None:

    sent = EARLIER_RELEASE_JSON[model]
    message = model.model_validate_json(sent)
    assert json.loads(message.model_dump_json()) == json.loads(sent)
    assert list(json.loads(sent)) != ["message_id", "produced_at", *WIRE_FIELDS[model].split()]


def test_batches_check_their_series_and_stored_events_take_it_as_sent() -> None:
    batch = {"batch_id": uuid.uuid4(), "job_id": None}
    stored = {**batch, "rows_changed": 0}
    with pytest.raises(ValidationError):
        CandleBatchV1(**batch, symbol="btc-usdt", interval="1h", source="binance", candles=[])
    with pytest.raises(ValidationError):
        StockPricesV1(**batch, symbol="nda fi", exchange="OMXH", source="nasdaq", bars=[])
    with pytest.raises(ValidationError):
        WeatherObservationsV1(
            **batch, location="1 Main St", kind="current", source="simulated", observations=[]
        )
    assert (
        CandlesStoredV1(
            **stored,
            symbol="btc-usdt",
            interval="1h",
            source="binance",
            first_t=T0,
            last_t=T0,
            candles=1,
        ).symbol
        == "btc-usdt"
    )
    assert (
        StockPricesStoredV1(
            **stored,
            symbol="nda fi",
            exchange="OMXH",
            source="nasdaq",
            first_date=date(2024, 3, 1),
            last_date=None,
            bars=1,
        ).symbol
        == "nda fi"
    )
    assert (
        WeatherStoredV1(
            **stored,
            location="1 Main St",
            kind="current",
            source="simulated",
            first_t=None,
            last_t=None,
            observations=0,
        ).location
        == "1 Main St"
    )
