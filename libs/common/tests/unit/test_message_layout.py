"""The ingest messages as they go on the wire, whatever bases they are built from:
fields in the order consumers have always received them, a batch's series checked
strictly and its stored event's taken as the writer sends it."""

from __future__ import annotations

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
    CandlesStoredV1: f"{BATCH} symbol interval source first_t last_t candles rows_changed",
    CryptoBackfillRequestedV1: "job_id symbol interval start end requested_by",
    StockPricesV1: f"{BATCH} symbol exchange source bars",
    StockPricesStoredV1: f"{BATCH} symbol exchange source first_date last_date bars rows_changed",
    StocksBackfillRequestedV1: "job_id symbol exchange start end requested_by",
    WeatherObservationsV1: f"{BATCH} location kind source observations",
    WeatherStoredV1: f"{BATCH} location kind source first_t last_t observations rows_changed",
    WeatherBackfillRequestedV1: "job_id location start end requested_by",
}


@pytest.mark.parametrize("model", WIRE_FIELDS, ids=lambda model: model.__name__)
def test_wire_order_of_fields(model: type[BaseModel]) -> None:
    fields = ["message_id", "produced_at", *WIRE_FIELDS[model].split()]
    assert list(model.model_fields) == fields
    assert list(model.model_json_schema()["properties"]) == fields


T0 = datetime(2024, 3, 1, tzinfo=UTC)


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
