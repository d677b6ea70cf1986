"""The input schemas of the OpenAPI document say what the code checks (issue 10):
for every symbol, location and symbol-list input, a string is accepted exactly
when it matches the pattern the document shows (and the exchange of
`/api/stocks/latest`, in either case); `rank_by` is an enum of the
rankable metrics; `limit` of the prices states its bounds; dates are strings.

The document's patterns are read from the schemas pydantic generates (what FastAPI
serves) and applied with `re.fullmatch`: they use only character classes and
counted repeats, where Python's `re` and ECMA-262 agree (fullmatch leaves no
room for Python's `$` before a final newline)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from ticktide_gateway.backtests.planning import RANKABLE_METRICS, BacktestBatchRequest
from ticktide_gateway.crypto.schemas import BackfillRequest, PricesQuery
from ticktide_gateway.openapi_doc import SETTING_MAXIMUM, with_setting_bounds
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.stocks.schemas import (
    MAX_MULTI_SYMBOLS,
    LatestStocksQuery,
    MultiStockQuery,
    StocksBackfillRequest,
    StockSymbol,
    parse_symbol_list,
)
from ticktide_gateway.validation import InvalidQuery, Symbol
from ticktide_gateway.weather.schemas import LocationName, WeatherBackfillRequest

# Short strings over an alphabet with every kind of character the rules treat
# differently: both cases, digits, the punctuation some allow, a comma, spaces and
# other whitespace, and letters whose upper case is ASCII ("ß" -> "SS", "ı" -> "I").
ALPHABET = "aZ0 .-',\t\nßı"
LONG = [
    "A" * 20,
    "A" * 21,
    " " + "a" * 20 + "  ",
    "A" + "." * 19,
    "A" + "." * 20,
    "Helsinki",
    " New York ",
    "A" * 64,
    "A" * 65,
    "ßß",
    "ﬀ",
    "BTCUSDT\n",
]


def samples(max_length: int = 4) -> list[str]:
    short = (
        "".join(chars)
        for n in range(max_length + 1)
        for chars in itertools.product(ALPHABET, repeat=n)
    )
    return [*short, *LONG]


def schema_of(annotation: Any) -> dict[str, Any]:
    return TypeAdapter(annotation).json_schema()


def documented(schema: dict[str, Any], value: str) -> bool:
    """`value` against the schema's string keywords (the ones these schemas use)."""
    pattern = schema.get("pattern")
    return (
        (pattern is None or re.fullmatch(pattern, value) is not None)
        and len(value) >= schema.get("minLength", 0)
        and len(value) <= schema.get("maxLength", len(value))
    )


def accepted(annotation: Any, value: str) -> bool:
    return accepts(TypeAdapter(annotation), value)


def accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("annotation", [Symbol, StockSymbol, LocationName])
def test_symbols_and_locations_are_accepted_exactly_when_their_pattern_matches(
    annotation: Any,
) -> None:
    schema = schema_of(annotation)
    assert schema["type"] == "string" and schema["pattern"]
    adapter = TypeAdapter(annotation)
    wrong = [value for value in samples() if documented(schema, value) != accepts(adapter, value)]
    assert not wrong, wrong[:20]


def test_normalised_values_are_what_is_stored() -> None:
    assert TypeAdapter(Symbol).validate_python(" btcUsdt ") == "BTCUSDT"
    assert TypeAdapter(StockSymbol).validate_python(" nda-fi ") == "NDA-FI"
    assert TypeAdapter(LocationName).validate_python(" New York ") == "New York"
    for value in ("ßß", "ﬀx", "BTC\tUSDT", "\tAAPL"):
        assert not accepted(Symbol, value) and not accepted(StockSymbol, value)


def test_the_exchange_is_accepted_exactly_when_its_documented_pattern_matches() -> None:
    schema = LatestStocksQuery.model_json_schema()["properties"]["exchange"]
    (text,) = [branch for branch in schema["anyOf"] if branch["type"] == "string"]

    def exchange_accepted(value: str) -> bool:
        try:
            LatestStocksQuery(exchange=value)
        except ValidationError:
            return False
        return True

    values = [*samples(3), "nasdaq", " NasDaq ", "OMXH", "omxh\t", "NYSE", "OMXHX"]
    wrong = [v for v in values if documented(text, v) != exchange_accepted(v)]
    assert not wrong, wrong[:20]
    assert LatestStocksQuery(exchange=" omxh ").exchange == "OMXH"


def symbol_list_accepted(value: str) -> bool:
    try:
        parse_symbol_list(value)
    except InvalidQuery:
        return False
    return True


def test_the_symbol_list_is_accepted_exactly_when_its_documented_pattern_matches() -> None:
    schema = MultiStockQuery.model_json_schema()["properties"]["symbols"]
    many = [",".join(f"S{i}" for i in range(count)) for count in (MAX_MULTI_SYMBOLS, 21)] + [
        " ,".join(["AAPL"] * 20),
        ",".join(["AAPL"] * 21),
        "AAPL NOKIA",
        ",,AAPL,, ",
    ]
    wrong = [
        value
        for value in [*samples(4), *many]
        if len(value) <= schema["maxLength"]
        and documented(schema, value) != symbol_list_accepted(value)
    ]
    assert not wrong, wrong[:20]
    assert parse_symbol_list(" aapl, NOKIA,,AAPL ,nda-fi") == ["AAPL", "NOKIA", "NDA-FI"]


def test_rank_by_is_an_enum_of_the_rankable_metrics() -> None:
    schema = BacktestBatchRequest.model_json_schema()["properties"]["rank_by"]
    assert schema["enum"] == list(RANKABLE_METRICS) and schema["default"] == "sharpe"
    body = {
        "symbols": ["BTCUSDT"],
        "intervals": ["1d"],
        "strategy": "sma_cross",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-04T00:00:00Z",
    }
    for metric in RANKABLE_METRICS:
        assert BacktestBatchRequest.model_validate({**body, "rank_by": metric}).rank_by == metric
    with pytest.raises(ValidationError) as caught:
        BacktestBatchRequest.model_validate({**body, "rank_by": "310028"})
    (error,) = caught.value.errors()
    assert error["loc"] == ("rank_by",) and "'max_drawdown'" in error["msg"]


def test_the_prices_limit_states_the_running_setting_as_its_maximum() -> None:
    limit = PricesQuery.model_json_schema()["properties"]["limit"]
    assert limit["minimum"] == 1 and limit[SETTING_MAXIMUM] == "max_candles_per_request"
    settings = GatewaySettings(max_candles_per_request=1234)
    served = with_setting_bounds({"a": [{"b": limit}]}, settings)
    bounds = served["a"][0]["b"]
    assert (bounds["minimum"], bounds["maximum"]) == (1, 1234)
    assert SETTING_MAXIMUM not in bounds
    assert SETTING_MAXIMUM in limit  # the model's own schema is left as it was


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (BackfillRequest, {"symbol": "BTCUSDT", "interval": "1h", "end": "2024-01-02"}),
        (StocksBackfillRequest, {"symbol": "AAPL", "end": "2024-01-02"}),
        (WeatherBackfillRequest, {"location": "Helsinki", "end": "2024-01-02"}),
    ],
)
@pytest.mark.parametrize("start", [0, 1700000000, 0.5, "1700000000"])
def test_backfill_dates_given_as_numbers_are_refused(
    model: type[BaseModel], body: dict[str, Any], start: object
) -> None:
    properties = model.model_json_schema()["properties"]
    assert properties["start"]["type"] == "string"
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**body, "start": start})
    (error,) = caught.value.errors()
    assert error["loc"] == ("start",) and "Unix seconds is not accepted" in error["msg"]
