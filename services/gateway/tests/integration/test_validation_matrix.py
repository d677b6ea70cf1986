"""Every bad input gets its exact 4xx and a message naming the problem; never a 5xx."""

from __future__ import annotations

import httpx
import pytest

PRICES = "/api/crypto/prices"
OK = {"symbol": "BTCUSDT", "interval": "1h"}

PRICES_CASES = [
    # (params, status, fragments the detail must contain)
    ({"symbol": "NOPEUSDT"}, 404, ["unknown symbol 'NOPEUSDT'"]),
    ({"interval": "1h"}, 422, ["'symbol'", "Field required"]),
    ({**OK, "symbol": "BTC/USDT"}, 422, ["'symbol'", "pattern"]),
    ({**OK, "symbol": "B" * 30}, 422, ["'symbol'"]),
    ({**OK, "symbol": "BTC\x00USDT"}, 422, ["'symbol'"]),
    ({**OK, "interval": "2h"}, 422, ["'interval'", "'1h', '4h' or '1d'"]),
    ({**OK, "interval": ""}, 422, ["'interval'", "'1h', '4h' or '1d'"]),
    ({**OK, "start": "yesterday"}, 422, ["'start'", "datetime"]),
    ({**OK, "end": "2024-02-30"}, 422, ["'end'", "day value is outside expected range"]),
    ({**OK, "start": "2024-01-01T25:00:00Z"}, 422, ["'start'"]),
    ({**OK, "start": "1" * 40}, 422, ["'start'"]),
    ({**OK, "start": "2024-01-02", "end": "2024-01-01"}, 422, ["must be before end"]),
    ({**OK, "start": "2024-01-01", "end": "2024-01-01"}, 422, ["must be before end"]),
    (
        {**OK, "start": "2020-01-01", "end": "2024-01-01"},
        422,
        ["range too large", "35064 1h candles", "maximum of 20000"],
    ),
    ({**OK, "start": "0001-01-01"}, 422, ["range too large"]),
    ({**OK, "limit": "0"}, 422, ["limit must be between 1 and 20000"]),
    ({**OK, "limit": "20001"}, 422, ["limit must be between 1 and 20000"]),
    ({**OK, "limit": "many"}, 422, ["'limit'", "integer"]),
    ({**OK, "limit": "9" * 30}, 422, ["limit must be between 1 and 20000"]),
]


@pytest.mark.parametrize("params,status,fragments", PRICES_CASES)
async def test_prices_bad_input(
    api: httpx.AsyncClient, params: dict[str, str], status: int, fragments: list[str]
) -> None:
    response = await api.get(PRICES, params=params)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for fragment in fragments:
        assert fragment in detail, detail


BACKFILL = "/api/admin/ingest/crypto/backfill"
BODY = {
    "symbol": "BTCUSDT",
    "interval": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-02T00:00:00Z",
}

BACKFILL_CASES = [
    ({**BODY, "symbol": "btc-usdt"}, 422, ["'symbol'", "pattern"]),
    ({**BODY, "interval": "15m"}, 422, ["'interval'", "'1h', '4h' or '1d'"]),
    ({**BODY, "start": "soon"}, 422, ["'start'"]),
    ({**BODY, "start": BODY["end"], "end": BODY["start"]}, 422, ["must be before end"]),
    ({**BODY, "start": "1990-01-01T00:00:00Z"}, 422, ["range too large"]),
    ({k: v for k, v in BODY.items() if k != "end"}, 422, ["'end'", "Field required"]),
    ({**BODY, "extra": 1}, 422, ["'extra'"]),
    ([1, 2], 422, ["request body"]),
]


@pytest.mark.parametrize("body,status,fragments", BACKFILL_CASES)
async def test_backfill_bad_input(
    api: httpx.AsyncClient, body: object, status: int, fragments: list[str]
) -> None:
    response = await api.post(BACKFILL, json=body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for fragment in fragments:
        assert fragment in detail, detail


async def test_malformed_json_and_bad_paths(api: httpx.AsyncClient) -> None:
    response = await api.post(
        BACKFILL, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "JSON" in response.json()["detail"]

    response = await api.get("/api/admin/ingest/jobs/not-a-uuid")
    assert response.status_code == 422 and "job_id" in response.json()["detail"]

    response = await api.get("/api/admin/ingest/jobs/3b2d5f6e-0c1a-4f9e-9d8b-7a6c5e4d3c2b")
    assert response.status_code == 404 and "no ingest job" in response.json()["detail"]

    response = await api.get("/api/crypto/quality", params={"symbol": "NOPEUSDT"})
    assert response.status_code == 404 and "unknown symbol" in response.json()["detail"]

    response = await api.get("/api/nothing-here")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}

    response = await api.delete(PRICES)
    assert response.status_code == 405
