"""Issue 10's date findings through the real gateway and auth: every operation of
the OpenAPI document that takes a time (a query parameter or a top-level body
field of format date/date-time, or named like one) answers 422 naming the field
to a time whose UTC conversion leaves the years 1-9999, as a user and as an
admin, and nothing answers 500. The list comes from the document, so a new
endpoint is covered without a new test. A year-1 crypto backfill is a 422 at
the gateway."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EARLY = "0001-01-01T00:00:00+05:00"  # UTC: year 0
LATE = "9999-12-31T23:00:00-05:00"  # UTC: year 10000
EDGE_EARLY = "0001-01-01T00:00:00Z"  # the first and last representable times
EDGE_LATE = "9999-12-31T23:59:59Z"
STARTS = {"start", "since", "after", "from"}
METHODS = ("get", "post", "put", "patch", "delete")
TIME_NAMES = {"start", "end", "before", "after", "since", "until", "from", "to", "date", "at"}
TIME_FORMATS = {"date", "date-time"}
# What the walk must find (the document is the source of the list, this is a floor).
EXPECTED = {
    ("GET", "/api/crypto/prices"),
    ("GET", "/api/stocks/prices"),
    ("GET", "/api/stocks/multi"),
    ("GET", "/api/stocks/stats"),
    ("GET", "/api/weather/historic"),
    ("POST", "/api/admin/ingest/crypto/backfill"),
    ("POST", "/api/admin/ingest/stocks/backfill"),
    ("POST", "/api/admin/ingest/weather/backfill"),
    ("POST", "/api/crypto/backtest/run"),
    ("POST", "/api/crypto/backtest/batch"),
}


@dataclass(frozen=True)
class TimeInput:
    method: str
    template: str
    url: str
    where: str  # "query" or "body"
    name: str
    formats: frozenset[str]
    # The operation's required query parameters with their documented example.
    required: tuple[tuple[str, str], ...] = ()
    # Integer query parameters of the operation, sent as 1 beside the time (a
    # cursor's `before` is checked only with its `before_id`).
    integers: tuple[str, ...] = ()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _formats(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> set[str]:
    """Every `format` of a schema and its anyOf/oneOf/allOf alternatives."""
    schema = _resolve(document, schema)
    found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
    if depth < 4:
        for key in ("anyOf", "oneOf", "allOf"):
            for alternative in schema.get(key, []):
                found |= _formats(document, alternative, depth + 1)
    return found


def _types(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(document, schema)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for alternative in schema.get("anyOf", []):
        found |= _types(document, alternative)
    return found


def _example(document: dict[str, Any], parameter: dict[str, Any]) -> str:
    schema = _resolve(document, parameter.get("schema", {}))
    for value in (
        *parameter.get("examples", {}).values(),
        parameter.get("example"),
        *schema.get("examples", []),
        schema.get("default"),
        *schema.get("enum", []),
    ):
        if isinstance(value, dict):
            value = value.get("value")
        if value is not None:
            return str(value)
    return "1"


def _is_time(name: str, formats: set[str]) -> bool:
    return bool(formats & TIME_FORMATS) or name.lower() in TIME_NAMES


def _filled(path: str, operation: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            schema = parameter.get("schema", {})
            value = "1" if schema.get("type") == "integer" else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def time_inputs(document: dict[str, Any]) -> list[TimeInput]:
    """Every query parameter and top-level JSON body field that takes a time."""
    found: list[TimeInput] = []
    for template, item in document["paths"].items():
        if not template.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            url = _filled(template, operation)
            integers = tuple(
                p["name"]
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and "integer" in _types(document, p.get("schema", {}))
            )
            required = tuple(
                (p["name"], _example(document, p))
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            )
            for parameter in operation.get("parameters", []):
                formats = _formats(document, parameter.get("schema", {}))
                if parameter.get("in") == "query" and _is_time(parameter["name"], formats):
                    found.append(
                        TimeInput(
                            method.upper(),
                            template,
                            url,
                            "query",
                            parameter["name"],
                            frozenset(formats),
                            required,
                            integers,
                        )
                    )
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            for name, field in _resolve(document, schema).get("properties", {}).items():
                formats = _formats(document, field)
                if _is_time(name, formats):
                    found.append(
                        TimeInput(method.upper(), template, url, "body", name, frozenset(formats))
                    )
    return found


@pytest.fixture(scope="module")
def binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    binance: FakeBinance, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[CryptoStack]:
    started = await start_stack(binance, stack_env(service_env, binance.url), log_dir)
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture(scope="module")
async def client(stack: CryptoStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        yield http


async def _headers(pool: asyncpg.Pool, role: str) -> dict[str, str]:
    user_id, _ = await create_test_user(pool, role=role)  # type: ignore[arg-type]
    return bearer(await create_test_token(pool, user_id))


def _is_admin_route(path: str) -> bool:
    return path.startswith("/api/admin/") or path == "/api/crypto/quality"


async def _send(
    client: httpx.AsyncClient, found: TimeInput, value: str, headers: dict[str, str]
) -> httpx.Response:
    if found.where == "query":
        params = {name: "1" for name in found.integers} | {found.name: value}
        return await client.request(found.method, found.url, params=params, headers=headers)
    return await client.request(found.method, found.url, json={found.name: value}, headers=headers)


async def test_every_time_input_refuses_an_unrepresentable_utc_time(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert not document["info"].get("x-ticktide-incomplete"), "auth's routes are missing"
    inputs = time_inputs(document)
    listed = {(i.method, i.template) for i in inputs}
    assert EXPECTED <= listed, EXPECTED - listed

    admin = await _headers(db_pool, "admin")
    user = await _headers(db_pool, "user")
    wrong: list[str] = []
    for found in inputs:
        for value in (EARLY, LATE):
            what = f"{found.method} {found.template} {found.where} '{found.name}'={value}"
            for role, headers in (("admin", admin), ("user", user)):
                answer = await _send(client, found, value, headers)
                if role == "user" and _is_admin_route(found.template):
                    if answer.status_code != 403:
                        wrong.append(f"{what} as a user: {answer.status_code} {answer.text:.200}")
                    continue
                if answer.status_code != 422:
                    wrong.append(f"{what} as {role}: {answer.status_code} {answer.text:.300}")
                    continue
                text = answer.text
                if f"'{found.name}'" not in text and f'"{found.name}"' not in text:
                    wrong.append(f"{what} as {role}: the 422 does not name the field: {text:.300}")
                if found.formats & TIME_FORMATS and "outside the years 1 to 9999" not in text:
                    wrong.append(f"{what} as {role}: no clear reason: {text:.300}")
    assert not wrong, "\n".join(wrong)


async def test_a_year_one_crypto_backfill_is_refused_at_the_gateway(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    admin = await _headers(db_pool, "admin")
    response = await client.post(
        "/api/admin/ingest/crypto/backfill",
        json={
            "symbol": "BTCUSDT",
            "interval": "1d",
            "start": "0001-01-01T00:00:00Z",
            "end": "0001-02-01T00:00:00Z",
        },
        headers=admin,
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "start (0001-01-01T00:00:00Z) is before the crypto (Binance) history" in detail
    assert "2017-07-14" in detail


async def test_reads_take_the_first_and_last_representable_times_without_a_500(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    """A far end is allowed on reads, but nothing derived from it may overflow."""
    document = (await client.get("/api/openapi.json")).json()
    reads: dict[tuple[str, str], list[TimeInput]] = {}
    for found in time_inputs(document):
        if found.method == "GET" and found.where == "query":
            reads.setdefault((found.url, found.template), []).append(found)
    assert len(reads) >= 5, reads
    admin = await _headers(db_pool, "admin")
    wrong: list[str] = []
    for (url, template), inputs in reads.items():
        base = {name: "1" for name in inputs[0].integers} | dict(inputs[0].required)
        edges = {f.name: EDGE_EARLY if f.name in STARTS else EDGE_LATE for f in inputs}
        tries = [{name: value} for name, value in edges.items()] + [edges]
        if "start" in edges:
            tries.append({"start": EDGE_LATE.replace("23:59:59", "23:00:00")})
        for times in tries:
            params = {**base, **times}
            answer = await client.get(url, params=params, headers=admin)
            if answer.status_code >= 500:
                wrong.append(f"GET {template} {params}: {answer.status_code} {answer.text:.300}")
    assert not wrong, "\n".join(wrong)
