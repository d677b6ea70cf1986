"""`GET /api/stocks/prices?format=columns` against the real gateway and PostgreSQL:
the same bars as the default shape value for value (digits included), `o` null
where the exchange publishes no open, the same default window, empty lists for
no bars, and a clear 422 for a format that does not exist."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx

FIELDS = ("date", "o", "h", "l", "c", "v")


def _as_rows(columns: dict[str, Any]) -> list[dict[str, Any]]:
    lengths = {len(columns[f]) for f in FIELDS}
    assert len(lengths) == 1, {f: len(columns[f]) for f in FIELDS}
    bars = zip(*(columns[f] for f in FIELDS), strict=True)
    return [dict(zip(FIELDS, values, strict=True)) for values in bars]


async def _both(
    api: httpx.AsyncClient, params: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    rows = await api.get("/api/stocks/prices", params=params)
    columns = await api.get("/api/stocks/prices", params={**params, "format": "columns"})
    assert (rows.status_code, columns.status_code) == (200, 200), (rows.text, columns.text)
    return rows, columns


def _same_bars(rows: httpx.Response, columns: httpx.Response) -> None:
    """Value for value, and digit for digit (numbers read as their text)."""
    for parse_float in (float, str):
        by_rows = json.loads(rows.content, parse_float=parse_float, parse_int=parse_float)
        by_columns = json.loads(columns.content, parse_float=parse_float, parse_int=parse_float)
        bars = by_rows.pop("prices")
        assert _as_rows(by_columns) == bars
        assert {k: by_columns[k] for k in by_rows} == by_rows
        assert set(by_columns) == {*by_rows, *FIELDS}


async def test_columns_equal_rows_value_for_value(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    nasdaq, helsinki = market.unique_symbol("K"), market.unique_symbol("K")
    await market.stock(nasdaq)
    await market.stock(helsinki, exchange="OMXH")
    days = [date(2024, 2, 1) + timedelta(days=i) for i in range(30)]
    await market.bars(
        nasdaq,
        [
            (d, f"{100 + i}.1500", f"{101 + i}.5", f"{99 + i}.25", f"{100 + i}.3", f"{i * 1000}")
            for i, d in enumerate(days)
        ]
        + [(date(2024, 3, 4), "0.0001", "1234567.891", "0.00001", "181.18", "0")],
        source="simulated",
    )
    await market.bars(
        helsinki,
        [(d, None, "3.2", "3.1", "3.15", "1234567") for d in days[:5]]
        + [(days[5], "3.15", "3.3", "3.05", "3.25", "0")],
        source="nasdaq-nordic",
    )
    for symbol in (nasdaq, helsinki):
        for params in (
            {"symbol": symbol, "start": "2024-02-03", "end": "2024-03-05"},  # a range
            {"symbol": symbol},  # the default window: a year up to the last stored day
            {"symbol": symbol.lower(), "end": "2024-02-10"},
            {"symbol": symbol, "start": "2024-02-04"},
        ):
            rows, columns = await _both(api, params)
            assert rows.json()["prices"], params
            _same_bars(rows, columns)
    rows, columns = await _both(api, {"symbol": helsinki, "start": "2024-02-01"})
    assert columns.json()["o"] == [None] * 5 + [3.15]
    assert columns.json()["source"] == "nasdaq-nordic"


async def test_no_bars_in_range_are_empty_lists(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    symbol = market.unique_symbol("K")
    await market.stock(symbol)
    rows, columns = await _both(api, {"symbol": symbol, "start": "2020-01-01", "end": "2020-02-01"})
    assert rows.json()["prices"] == []
    assert columns.json() == {
        "symbol": symbol,
        "exchange": "NASDAQ",
        "source": None,
        **{f: [] for f in FIELDS},
    }


async def test_an_unknown_format_is_422_naming_the_formats(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/stocks/prices", params={"symbol": "AAPL", "format": "csv"})
    assert response.status_code == 422, response.text
    text = response.text
    assert "format" in text and "'rows'" in text and "'columns'" in text, text


async def test_the_document_declares_both_shapes(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/stocks/prices"]["get"]
    (format_parameter,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert format_parameter["schema"]["enum"] == ["rows", "columns"]
    assert "columns" in format_parameter["description"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    shapes = {s["$ref"].rsplit("/", 1)[-1] for s in schema["anyOf"]}
    assert shapes == {"StockPrices", "StockPriceColumns"}
