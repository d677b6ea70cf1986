"""The `format=columns` body of `/api/stocks/prices`: the same bars as the default
shape, field by field, and valid against the model the document declares for it
(and not against the default shape's)."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from ticktide_gateway.stocks.bodies import stock_price_columns_body, stock_prices_body
from ticktide_gateway.stocks.schemas import StockPriceColumns, StockPrices

ROWS = (
    '{"date":"2024-01-02","o":null,"h":3.2000,"l":3.1,"c":3.15,"v":1234567},'
    '{"date":"2024-01-03","o":3.15,"h":3.3,"l":3.05,"c":3.25,"v":0}'
)
COLUMNS = {
    "date": '"2024-01-02","2024-01-03"',
    "o": "null,3.15",
    "h": "3.2000,3.3",
    "l": "3.1,3.05",
    "c": "3.15,3.25",
    "v": "1234567,0",
}


def test_columns_hold_the_rows_field_by_field() -> None:
    rows = json.loads(stock_prices_body("NOKIA", "OMXH", ROWS, ["nasdaq-nordic"]))
    columns = json.loads(stock_price_columns_body("NOKIA", "OMXH", COLUMNS, ["nasdaq-nordic"]))
    assert list(columns) == ["symbol", "exchange", "source", "date", "o", "h", "l", "c", "v"]
    fields = list(COLUMNS)
    zipped = [
        dict(zip(fields, values, strict=True))
        for values in zip(*(columns[f] for f in fields), strict=True)
    ]
    assert zipped == rows.pop("prices")
    assert {k: columns[k] for k in rows} == rows


def test_no_bars_are_empty_lists() -> None:
    empty = dict.fromkeys(COLUMNS, "")
    body = json.loads(stock_price_columns_body("X", "NASDAQ", empty, []))
    assert body == {
        "symbol": "X",
        "exchange": "NASDAQ",
        "source": None,
        **dict.fromkeys(COLUMNS, []),
    }


def _validator(model: type[StockPrices] | type[StockPriceColumns]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(model.model_json_schema())


@pytest.mark.parametrize("bars", [COLUMNS, dict.fromkeys(COLUMNS, "")])
def test_the_columns_body_is_what_its_model_declares(bars: dict[str, str]) -> None:
    body = json.loads(stock_price_columns_body("NOKIA", "OMXH", bars, ["nasdaq-nordic"]))
    assert _validator(StockPriceColumns).is_valid(body)
    assert not _validator(StockPrices).is_valid(body)
    assert not _validator(StockPriceColumns).is_valid({**body, "prices": []})
    rows = json.loads(stock_prices_body("NOKIA", "OMXH", ROWS, ["nasdaq-nordic"]))
    assert not _validator(StockPriceColumns).is_valid(rows)
