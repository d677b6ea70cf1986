"""The gateway's document declares a body for every success answer, and the bodies
its fast paths pre-build (bytes, never through pydantic) are valid against it.

Pure: no stack. The fuzz run (test_schemathesis.py) checks the same thing on live
answers, but only for the answers its examples happen to reach; here every body
builder is checked, nulls and empty lists included, with the validator
schemathesis itself uses (jsonschema_rs) and `additionalProperties: false` from
`ticktide_gateway.schemas.ResponseModel`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from ticktide_auth.app import create_app as create_auth_app
from ticktide_auth.settings import AuthSettings
from ticktide_common.jobs import JobProgress
from ticktide_gateway.app import create_app
from ticktide_gateway.crypto.bodies import buckets_body, symbols_body
from ticktide_gateway.crypto.price_pieces import Piece, assemble_prices
from ticktide_gateway.crypto.quality import SeriesFacts, quality_report
from ticktide_gateway.health.report import public_summary
from ticktide_gateway.openapi_doc import merge_documents
from ticktide_gateway.serialization import json_bytes
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.stocks.bodies import (
    latest_body,
    multi_body,
    stats_body,
    stock_data_body,
    stock_gaps_body,
    stock_prices_body,
)
from ticktide_gateway.weather.bodies import current_weather_body, historic_weather_body

# Operations whose success answer is not declared yet, each with whose module it is.
UNDECLARED: dict[tuple[str, str], str] = {}

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CANDLE = '{"t":"2024-01-01T00:00:00Z","o":42283.58,"h":42554.57,"l":42261.02,"c":42475,"v":0}'
BAR = '{"date":"2024-01-02","o":null,"h":3.2,"l":3.1,"c":3.15,"v":1234567}'
OBSERVATION = (
    '{"t":"2024-01-01T00:00:00Z","temperature":-3.5,"humidity":null,"pressure":1012,'
    '"wind_speed":4.1,"description":null}'
)
DAY = (
    '{"date":"2024-01-01","temperature_min":-5,"temperature_mean":-3.25,"temperature_max":-1,'
    '"humidity_mean":null,"pressure_mean":1012.5,"wind_speed_mean":3,"hours":24}'
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The gateway's document merged with auth's, as `/api/openapi.json` serves it
    (auth's routes are forwarded; their models are auth's own)."""
    gateway = create_app(GatewaySettings(_env_file=None))  # type: ignore[call-arg]
    auth = create_auth_app(AuthSettings(_env_file=None))  # type: ignore[call-arg]
    return merge_documents(gateway.openapi(), auth.openapi())


def _schema(document: dict[str, Any], method: str, path: str, status: str = "200") -> Any:
    content = document["paths"][path][method]["responses"][status]["content"]
    schema = content["application/json"]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


def _check(document: dict[str, Any], method: str, path: str, body: bytes, status: str = "200"):
    validator = _schema(document, method, path, status)
    errors = [e.message for e in validator.iter_errors(json.loads(body))]
    assert not errors, f"{method.upper()} {path}: {errors}"


def test_every_success_answer_declares_its_body(document: dict[str, Any]) -> None:
    assert "/api/auth/login" in document["paths"] and "/api/stocks/prices" in document["paths"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if not status.startswith("2") or (method, path) in UNDECLARED:
                    continue
                for media, entry in (answer.get("content") or {"-": {}}).items():
                    if media == "application/json" and not entry.get("schema"):
                        missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing


def prices_body(interval: str, shape: str = "rows", *, empty: bool = False) -> bytes:
    if empty:
        return assemble_prices("BTCUSDT", interval, shape, [Piece.empty(shape)])
    if shape == "rows":
        piece = Piece(b"b", (CANDLE.encode(),))
    else:
        piece = Piece(b"b", (b"1704067200", b"42283.58", b"42554.57", b"42261.02", b"42475", b"0"))
    return assemble_prices("BTCUSDT", interval, shape, [piece])


def test_crypto_bodies(document: dict[str, Any]) -> None:
    for shape in ("rows", "columns"):
        _check(document, "get", "/api/crypto/prices", prices_body("1h", shape))
        _check(document, "get", "/api/crypto/prices", prices_body("4h", shape, empty=True))
    bucket = CANDLE[:-1] + ',"n":24}'
    body = buckets_body("BTCUSDT", "1d", T0, datetime(2024, 1, 2, tzinfo=UTC), bucket, ["x"])
    _check(document, "get", "/api/crypto/aggregates", body)
    rows = [
        {"binance_symbol": "BTCUSDT", "base": "BTC", "name": "Bitcoin", "interval_type": "1h",
         "sources": ["binance", "simulated"], "candles": 3, "first": T0, "last": T0},
        {"binance_symbol": "ETHUSDT", "base": "ETH", "name": "Ethereum", "interval_type": None,
         "sources": None, "candles": None, "first": None, "last": None},
    ]  # fmt: skip
    _check(document, "get", "/api/crypto/symbols", symbols_body(rows))
    for facts in (
        SeriesFacts(T0, datetime(2024, 1, 2, tzinfo=UTC), 20, 1, [(T0, T0.replace(hour=3))]),
        SeriesFacts(None, None, 0, 0, []),
    ):
        report = json_bytes(quality_report("BTCUSDT", "1h", facts))
        _check(document, "get", "/api/crypto/quality", report)


def _stock(symbol: str = "NOKIA") -> dict[str, Any]:
    return {"symbol": symbol, "name": "Nokia Oyj", "exchange": "OMXH", "currency": "EUR"}


def test_stocks_bodies(document: dict[str, Any]) -> None:
    one = stock_prices_body("NOKIA", "OMXH", BAR, ["nasdaq-nordic"])
    _check(document, "get", "/api/stocks/prices", one)
    _check(document, "get", "/api/stocks/prices", stock_prices_body("X", "NASDAQ", None, []))
    _check(document, "get", "/api/stocks/multi", multi_body([one, one]))
    summary = {"first": T0, "last": T0, "days": 1}
    _check(document, "get", "/api/stocks/data", stock_data_body(_stock(), summary, ["x"], BAR))
    empty = {"first": None, "last": None, "days": 0}
    _check(document, "get", "/api/stocks/data", stock_data_body(_stock(), empty, [], None))
    latest = {
        **_stock(), "datetime": T0, "open_price": None, "high_price": Decimal("3.2"),
        "low_price": Decimal("3.1"), "close_price": Decimal("3.15"), "volume": Decimal(10),
        "previous_close": Decimal("3"), "source": "nasdaq-nordic",
    }  # fmt: skip
    nothing = {**latest, **dict.fromkeys(latest, None), **_stock("UPM")}
    _check(document, "get", "/api/stocks/latest", latest_body("OMXH", [latest, nothing]))
    _check(document, "get", "/api/stocks/latest", latest_body(None, []))
    figures = {
        "days": 2, "first_close": Decimal(3), "last_close": Decimal("3.3"),
        "annualized_volatility": 0.2, "high_52w": Decimal(4), "low_52w": Decimal(2),
        "average_volume": Decimal(100), "max_drawdown": 0.1,
    }  # fmt: skip
    body = stats_body(_stock(), "2024-01-01", "2024-01-05", figures, ["nasdaq-nordic"])
    _check(document, "get", "/api/stocks/stats", body)
    none = {**dict.fromkeys(figures, None), "days": 0}
    _check(document, "get", "/api/stocks/stats", stats_body(_stock(), None, None, none, []))
    gap = {
        "gap_start": date(2024, 1, 2), "gap_end": date(2024, 1, 3), "sessions": 2,
        "status": "open", "refill_attempts": 0, "detected_at": T0, "last_attempt_at": None,
        "refilled_at": None,
    }  # fmt: skip
    _check(document, "get", "/api/stocks/quality", stock_gaps_body(_stock(), [gap]))


def test_weather_bodies(document: dict[str, Any]) -> None:
    current = current_weather_body("Helsinki", OBSERVATION, "open-meteo")
    _check(document, "get", "/api/weather/current", current)
    for aggregate, rows in ((None, f"[{OBSERVATION}]"), ("daily", f"[{DAY}]"), (None, "[]")):
        body = historic_weather_body("Helsinki", "2024-01-01", "2024-01-02", aggregate, rows, [])
        _check(document, "get", "/api/weather/historic", body)


def test_admin_and_health_bodies(document: dict[str, Any]) -> None:
    job_id = uuid.uuid4()
    accepted = {"job_id": str(job_id), "status_url": f"/api/admin/ingest/jobs/{job_id}"}
    for path in ("crypto", "stocks", "weather"):
        _check(document, "post", f"/api/admin/ingest/{path}/backfill", json_bytes(accepted), "202")
    progress = JobProgress(
        job_id, "backfill", "BTCUSDT", "1h", T0, None, "running", 2, None, 1, 500, None, T0, None
    )
    _check(document, "get", "/api/admin/ingest/jobs/{job_id}", json_bytes(progress.as_json()))
    report = {
        "status": "degraded",
        "services": {
            "gateway": {"status": "ok", "version": "0.1.0", "health": {}, "ready": {}},
            "auth": {"status": "down", "url": "http://a", "latency_ms": 1.5,
                     "health": {"error": "unreachable"}, "ready": "text"},
        },
        "dependencies": {"redis": {"status": "ok", "detail": "ok (1.0 ms)"}},
        "backtest_workers": {"error": "TimeoutError: "},
    }  # fmt: skip
    for status in ("200", "503"):
        _check(document, "get", "/api/health", json_bytes(report), status)
        _check(document, "get", "/api/health", json_bytes(public_summary(report)), status)


def test_an_extra_field_fails() -> None:
    """What makes the checks above mean something: the models forbid extra fields."""
    document = create_app(GatewaySettings(_env_file=None)).openapi()  # type: ignore[call-arg]
    validator = _schema(document, "get", "/api/crypto/prices")
    body = json.loads(prices_body("1h"))
    assert validator.is_valid(body)
    assert not validator.is_valid({**body, "extra": 1})
    body["candles"][0]["x"] = 1
    assert not validator.is_valid(body)


def test_the_fuzz_run_checks_answers_against_the_document() -> None:
    from tests.api.fuzz import RESPONSE_CHECKS, FuzzRun, _config

    run = FuzzRun("user", "http://127.0.0.1:1", headers={}, own_ids={}, dictionaries={})
    checks = _config(run).projects.override.checks
    assert all(getattr(checks, name).enabled for name in RESPONSE_CHECKS)
    assert "response_schema_conformance" in RESPONSE_CHECKS


def test_an_event_stream_documents_each_event(document: dict[str, Any]) -> None:
    """How schemathesis reads text/event-stream (OpenAPI 3.1, no itemSchema): the schema
    is one event's, as its parser makes them (`data`, `event`, `id`, `retry`)."""
    for method, path in (
        ("post", "/api/crypto/backtest/stream"),
        ("get", "/api/crypto/backtest/batch/{batch_id}/events"),
    ):
        content = document["paths"][path][method]["responses"]["200"]["content"]
        schema = content["text/event-stream"]["schema"]
        validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
        event = {"data": '{"batch_id": "b", "jobs": 1}', "event": "queued", "id": "1-0"}
        assert validator.is_valid(event), path
        assert not validator.is_valid({**event, "event": "message"}), path
        assert not validator.is_valid({"event": "summary"}), path
