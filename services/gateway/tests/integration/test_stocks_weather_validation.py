"""Every bad input to the stocks and weather endpoints gets its exact 4xx and a
message naming the problem; nothing, however malformed, gets a 5xx."""

from __future__ import annotations

import httpx
import pytest

INJECTION = "AAPL'; DROP TABLE stocks;--"
LONG = "A" * 5000

GET_CASES = [
    # (path, params, status, fragments the detail must contain)
    ("/api/stocks/prices", {}, 422, ["'symbol'", "Field required"]),
    ("/api/stocks/prices", {"symbol": INJECTION}, 422, ["'symbol'", "pattern"]),
    ("/api/stocks/prices", {"symbol": LONG}, 422, ["'symbol'"]),
    ("/api/stocks/prices", {"symbol": "AAPL\x00"}, 422, ["'symbol'"]),
    ("/api/stocks/prices", {"symbol": "NOPE"}, 404, ["unknown stock symbol 'NOPE'"]),
    ("/api/stocks/prices", {"symbol": "AAPL", "start": "yesterday"}, 422, ["'start'"]),
    (
        "/api/stocks/prices",
        {"symbol": "AAPL", "end": "2024-02-30"},
        422,
        ["'end'", "day value is outside expected range"],
    ),
    ("/api/stocks/prices", {"symbol": "AAPL", "start": "1" * 40}, 422, ["'start'"]),
    (
        "/api/stocks/prices",
        {"symbol": "AAPL", "start": "2024-02-02", "end": "2024-02-01"},
        422,
        ["start (2024-02-02) must be before end (2024-02-01)"],
    ),
    (
        "/api/stocks/prices",
        {"symbol": "AAPL", "start": "2024-02-01", "end": "2024-02-01T00:00:00Z"},
        422,
        ["must be before end"],
    ),
    ("/api/stocks/prices", {"symbol": "AAPL", "end": "0001-01-01"}, 200, []),
    ("/api/stocks/data", {"symbol": ""}, 422, ["'symbol'"]),
    ("/api/stocks/data", {"symbol": "NO-SUCH"}, 404, ["unknown stock symbol 'NO-SUCH'"]),
    ("/api/stocks/stats", {"symbol": INJECTION}, 422, ["'symbol'"]),
    (
        "/api/stocks/stats",
        {"symbol": "AAPL", "start": "2024-03-01", "end": "2024-01-01"},
        422,
        ["must be before end"],
    ),
    ("/api/stocks/stats", {"symbol": "AAPL", "end": "not-a-date"}, 422, ["'end'"]),
    ("/api/stocks/multi", {}, 422, ["'symbols'", "Field required"]),
    ("/api/stocks/multi", {"symbols": " , ,"}, 422, ["at least one stock symbol"]),
    (
        "/api/stocks/multi",
        {"symbols": ",".join(f"S{i}" for i in range(21))},
        422,
        ["21 given, at most 20"],
    ),
    (
        "/api/stocks/multi",
        {"symbols": f"AAPL,{INJECTION}"},
        422,
        ['"AAPL\'; DROP TABLE stocks;--" is not a stock symbol'],  # as sent
    ),
    ("/api/stocks/multi", {"symbols": LONG}, 422, ["'symbols'"]),
    ("/api/stocks/multi", {"symbols": "AAPL,NOPE"}, 404, ["unknown stock symbol 'NOPE'"]),
    (
        "/api/stocks/multi",
        {"symbols": "AAPL", "start": "2024-01-02", "end": "2023-01-01"},
        422,
        ["must be before end"],
    ),
    ("/api/stocks/latest", {"exchange": "NYSE"}, 422, ["'exchange'", "'NASDAQ' or 'OMXH'"]),
    ("/api/stocks/latest", {"exchange": "' OR 1=1 --"}, 422, ["'exchange'"]),
    ("/api/stocks/latest", {"exchange": LONG}, 422, ["'exchange'"]),
    ("/api/weather/current", {}, 422, ["'location'", "Field required"]),
    ("/api/weather/current", {"location": ""}, 422, ["'location'"]),
    (
        "/api/weather/current",
        {"location": "Helsinki'; DROP TABLE weather_current;--"},
        422,
        ["'location'", "pattern"],
    ),
    ("/api/weather/current", {"location": LONG}, 422, ["'location'"]),
    ("/api/weather/current", {"location": "O'Brien"}, 404, ["unknown location 'O'Brien'; known:"]),
    ("/api/weather/historic", {"location": "Atlantis"}, 404, ["known: ", "Helsinki"]),
    (
        "/api/weather/historic",
        {"location": "Helsinki", "aggregate": "weekly"},
        422,
        ["'aggregate'", "'daily'"],
    ),
    (
        "/api/weather/historic",
        {"location": "Helsinki", "start": "2020-01-01", "end": "2024-01-01"},
        422,
        ["range too large", "more than 366 days"],
    ),
    (
        "/api/weather/historic",
        {"location": "Helsinki", "start": "2024-01-02", "end": "2024-01-01"},
        422,
        ["must be before end"],
    ),
    ("/api/weather/historic", {"location": "Helsinki", "start": "2024-13-01"}, 422, ["'start'"]),
    (
        "/api/weather/historic",
        {"location": "Helsinki", "end": "0001-01-01"},
        422,
        ["must be before end"],
    ),
    ("/api/weather/historic", {"location": "Helsinki", "start": "9999-12-31"}, 422, ["before"]),
    ("/api/stocks/quality", {"symbol": INJECTION}, 422, ["'symbol'"]),
    ("/api/stocks/quality", {"symbol": "NOPE"}, 404, ["unknown stock symbol 'NOPE'"]),
]


@pytest.mark.parametrize("path,params,status,fragments", GET_CASES)
async def test_bad_query(
    api: httpx.AsyncClient, path: str, params: dict[str, str], status: int, fragments: list[str]
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == status, response.text
    if status == 200:
        return
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for fragment in fragments:
        assert fragment in detail, detail


STOCKS = "/api/admin/ingest/stocks/backfill"
WEATHER = "/api/admin/ingest/weather/backfill"
STOCK_BODY = {"symbol": "AAPL", "start": "2024-01-01", "end": "2024-02-01"}
WEATHER_BODY = {"location": "Helsinki", "start": "2024-01-01", "end": "2024-01-02"}

BACKFILL_CASES = [
    (STOCKS, {**STOCK_BODY, "symbol": INJECTION}, 422, ["'symbol'", "pattern"]),
    (STOCKS, {**STOCK_BODY, "symbol": "NOPE"}, 404, ["unknown stock symbol 'NOPE'"]),
    (STOCKS, {**STOCK_BODY, "start": "2024-03-01"}, 422, ["must be before end"]),
    (STOCKS, {**STOCK_BODY, "start": "1900-01-01"}, 422, ["range too large", "at most 10980"]),
    (STOCKS, {**STOCK_BODY, "start": "2024-01-01T05:00:00Z"}, 422, ["'start'", "zero time"]),
    (STOCKS, {**STOCK_BODY, "end": "soon"}, 422, ["'end'"]),
    (STOCKS, {**STOCK_BODY, "exchange": "NYSE"}, 422, ["'exchange'"]),
    (STOCKS, {"symbol": "AAPL"}, 422, ["'start'", "Field required"]),
    (WEATHER, {**WEATHER_BODY, "location": "Atlantis"}, 404, ["unknown location 'Atlantis'"]),
    (WEATHER, {**WEATHER_BODY, "location": LONG}, 422, ["'location'"]),
    (WEATHER, {**WEATHER_BODY, "end": "2023-12-31"}, 422, ["must be before end"]),
    (WEATHER, {**WEATHER_BODY, "start": "1990-01-01"}, 422, ["range too large", "3660 days"]),
    (WEATHER, {**WEATHER_BODY, "start": "2024-01-01T25:00:00Z"}, 422, ["'start'"]),
    (WEATHER, ["Helsinki"], 422, ["request body"]),
]


@pytest.mark.parametrize("path,body,status,fragments", BACKFILL_CASES)
async def test_bad_backfill(
    api: httpx.AsyncClient, path: str, body: object, status: int, fragments: list[str]
) -> None:
    response = await api.post(path, json=body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for fragment in fragments:
        assert fragment in detail, detail


async def test_new_routes_in_openapi_with_summaries(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    paths = document["paths"]
    for path, method in [
        ("/api/stocks/data", "get"),
        ("/api/stocks/multi", "get"),
        ("/api/stocks/prices", "get"),
        ("/api/stocks/latest", "get"),
        ("/api/stocks/stats", "get"),
        ("/api/stocks/quality", "get"),
        ("/api/weather/current", "get"),
        ("/api/weather/historic", "get"),
        ("/api/user/database/info", "get"),
        ("/api/admin/ingest/stocks/backfill", "post"),
        ("/api/admin/ingest/weather/backfill", "post"),
    ]:
        assert paths[path][method]["summary"], path
    assert "ln(c_t / c_{t−1})" in paths["/api/stocks/stats"]["get"]["description"]
