"""`GET /api/dashboard` against the real gateway, PostgreSQL, Redis and RabbitMQ:
latest prices and changes computed from known closes, current weather, the
caller's running and recent batches (nobody else's), the health summary, the
freshness of each source with its simulated flag, a hung service that makes its
entry "down" instead of the dashboard slow, and many concurrent calls that share
one round of health probes per HEALTH_CACHE_SECONDS (issue 10: each call probed
every service)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

pytestmark = pytest.mark.integration

DASHBOARD = "/api/dashboard"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def pair() -> str:
    return f"D{uuid.uuid4().hex[:7].upper()}USDT"


def flat(t: datetime, close: str) -> tuple[datetime, str, str, str, str, str]:
    return (t, close, close, close, close, "1")


@pytest.fixture
async def caller(
    gateway: ServiceProcess, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    user_id, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, user_id)
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=10.0, headers=bearer(token)
    ) as client:
        yield user_id, client


async def dashboard(client: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
    answer = await client.get(DASHBOARD)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_crypto_prices_and_24h_change_from_known_closes(
    caller: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    _, client = caller
    rising, falling, gap, daily_only, empty, inactive = (pair() for _ in range(6))
    # 25 hourly candles: the first close 100, the last (24 h later) 112.5.
    await candle_store(
        db_pool,
        rising,
        "1h",
        [flat(T0 + h * HOUR, {0: "100", 24: "112.5"}.get(h, "105")) for h in range(25)],
    )
    await candle_store(
        db_pool, falling, "1h", [flat(T0, "200"), flat(T0 + 24 * HOUR, "190")], source="simulated"
    )
    # The candle 24 h before the newest is missing: the change is unknown.
    await candle_store(
        db_pool,
        gap,
        "1h",
        [flat(T0 + h * HOUR, "1") for h in range(25) if h != 2]
        + [flat(T0 + 26 * HOUR, "42123.45")],
    )
    await candle_store(db_pool, daily_only, "1d", [flat(T0, "7"), flat(T0 + 24 * HOUR, "8")])
    empty_id = await candle_store(db_pool, empty, "1h", [])
    await candle_store(db_pool, inactive, "1h", [flat(T0, "1")])
    await db_pool.execute(
        "UPDATE cryptocurrencies SET is_active = false WHERE binance_symbol = $1", inactive
    )
    assert empty_id > 0

    body = await dashboard(client)
    by_symbol = {c["symbol"]: c for c in body["crypto"]}
    assert by_symbol[rising] == {
        "symbol": rising,
        "base": rising.removesuffix("USDT"),
        "name": rising.removesuffix("USDT"),
        "t": "2024-05-02T00:00:00Z",
        "price": 112.5,
        "price_24h_ago": 100.0,
        "change_24h_pct": 12.5,
        "source": "binance",
    }
    assert {k: by_symbol[falling][k] for k in ("price", "change_24h_pct", "source")} == {
        "price": 190.0,
        "change_24h_pct": -5.0,
        "source": "simulated",
    }
    assert {k: by_symbol[gap][k] for k in ("t", "price", "price_24h_ago", "change_24h_pct")} == {
        "t": "2024-05-02T02:00:00Z",
        "price": 42123.45,
        "price_24h_ago": None,
        "change_24h_pct": None,
    }
    for nothing_hourly in (daily_only, empty):
        entry = by_symbol[nothing_hourly]
        assert (entry["t"], entry["price"], entry["change_24h_pct"], entry["source"]) == (
            None,
            None,
            None,
            None,
        )
    assert inactive not in by_symbol
    assert [c["symbol"] for c in body["crypto"]] == sorted(by_symbol)
    assert by_symbol["BTCUSDT"]["name"] == "Bitcoin"


async def test_stock_prices_and_change_from_the_previous_session(
    caller: tuple[int, httpx.AsyncClient], market
) -> None:  # type: ignore[no-untyped-def]
    _, client = caller
    nasdaq, helsinki, single = (market.unique_symbol("DS") for _ in range(3))
    await market.stock(nasdaq)
    await market.bars(
        nasdaq,
        [
            (date(2024, 5, 2), "1", "1", "1", "40.00", "1"),
            (date(2024, 5, 3), "1", "1", "1", "50.00", "1"),
            (date(2024, 5, 6), "1", "1", "1", "55.00", "1"),
        ],
    )
    await market.stock(helsinki, exchange="OMXH")
    await market.bars(
        helsinki,
        [
            (date(2024, 5, 2), None, "1", "1", "20", "1"),
            (date(2024, 5, 3), None, "1", "1", "19", "1"),
        ],
        source="nasdaq-nordic",
    )
    await market.stock(single)
    await market.bars(single, [(date(2024, 5, 6), "1", "1", "1", "3.25", "1")], source="simulated")

    stocks = {s["symbol"]: s for s in (await dashboard(client))["stocks"]}
    assert stocks[nasdaq] == {
        "symbol": nasdaq,
        "name": f"{nasdaq} Corp",
        "exchange": "NASDAQ",
        "currency": "USD",
        "date": "2024-05-06",
        "price": 55.0,
        "previous_close": 50.0,
        "change_pct": 10.0,
        "source": "nasdaq",
    }
    assert {k: stocks[helsinki][k] for k in ("exchange", "price", "change_pct", "source")} == {
        "exchange": "OMXH",
        "price": 19.0,
        "change_pct": -5.0,
        "source": "nasdaq-nordic",
    }
    assert {k: stocks[single][k] for k in ("price", "previous_close", "change_pct")} == {
        "price": 3.25,
        "previous_close": None,
        "change_pct": None,
    }
    assert stocks["AAPL"]["exchange"] == "NASDAQ"  # seeded, maybe without bars


async def test_current_weather_is_the_newest_observation_of_each_location(
    caller: tuple[int, httpx.AsyncClient], market
) -> None:  # type: ignore[no-untyped-def]
    _, client = caller
    observed, quiet = await market.new_location(), await market.new_location()
    await market.observations(
        observed,
        "current",
        [
            (T0, 1.5, 80.0, 1010.0, 3.2, "cloudy"),
            (T0 + HOUR, 2.5, 82.0, 1011.5, 4.0, "rain"),
            (T0 - HOUR, 9.0, 1.0, 1.0, 1.0, "old"),
        ],
        source="openweather",
    )
    weather = {w["location"]: w for w in (await dashboard(client))["weather"]}
    assert weather[observed] == {
        "location": observed,
        "t": "2024-05-01T01:00:00Z",
        "temperature": 2.5,
        "humidity": 82.0,
        "pressure": 1011.5,
        "wind_speed": 4.0,
        "description": "rain",
        "source": "openweather",
    }
    assert weather[quiet]["t"] is None and weather[quiet]["temperature"] is None
    assert "Helsinki" in weather


async def insert_batch(
    pool: asyncpg.Pool, user_id: int, created_at: datetime, status: str, finished: int = 0
) -> str:
    batch_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, status, total_jobs,
                                  total_backtests, created_at)
           VALUES ($1, $2, $3::jsonb, 'ema_cross', $4, 5, 50, $5)""",
        batch_id,
        user_id,
        json.dumps({"symbols": ["ETHUSDT"], "intervals": ["4h"]}),
        status,
        created_at,
    )
    await pool.executemany(
        "INSERT INTO backtest_jobs (batch_id, job_id, status) VALUES ($1, $2, 'done')",
        [(batch_id, j) for j in range(finished)],
    )
    return str(batch_id)


async def test_running_and_recent_batches_are_the_callers_own(
    caller: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    user_id, client = caller
    minute = timedelta(minutes=1)
    old_running = await insert_batch(db_pool, user_id, T0, "queued", finished=2)
    done = [
        await insert_batch(db_pool, user_id, T0 + (i + 1) * minute, "done", 5) for i in range(5)
    ]
    new_running = await insert_batch(db_pool, user_id, T0 + 10 * minute, "queued")
    cancelled = await insert_batch(db_pool, user_id, T0 + 11 * minute, "cancelled", 1)
    stranger, _ = await create_test_user(db_pool)
    foreign = await insert_batch(db_pool, stranger, T0 + 12 * minute, "queued")

    batches = (await dashboard(client))["batches"]
    assert [b["batch_id"] for b in batches["running"]] == [new_running, old_running]
    assert [b["batch_id"] for b in batches["recent"]] == [
        cancelled,
        new_running,
        done[4],
        done[3],
        done[2],
    ]
    assert foreign not in {b["batch_id"] for b in batches["running"] + batches["recent"]}
    first = batches["running"][1]
    assert {
        k: first[k] for k in ("status", "strategy", "jobs", "done", "symbols", "intervals")
    } == {
        "status": "queued",
        "strategy": "ema_cross",
        "jobs": 5,
        "done": 2,
        "symbols": ["ETHUSDT"],
        "intervals": ["4h"],
    }


async def test_health_summary_says_every_service_is_up(
    caller: tuple[int, httpx.AsyncClient],
) -> None:
    _, client = caller
    health = (await dashboard(client))["health"]
    assert health == {
        "status": "ok",
        "services": {
            "gateway": "ok",
            "auth": "ok",
            "ingest-crypto": "ok",
            "ingest-stocks": "ok",
            "ingest-weather": "ok",
            "writer": "ok",
            "web": "ok",
        },
        "dependencies": {"postgresql": "ok", "redis": "ok", "rabbitmq": "ok"},
    }


async def test_many_concurrent_dashboards_share_one_probe_round_per_period(
    caller: tuple[int, httpx.AsyncClient], stub_services: dict[str, Any]
) -> None:
    _, client = caller
    writer = stub_services["writer"]
    calls, cache_seconds = 50, 5.0  # HEALTH_CACHE_SECONDS' default
    await dashboard(client)  # a summary in the cache
    before = len(writer.probes)
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get(DASHBOARD) for _ in range(calls)))
    elapsed = time.perf_counter() - started
    assert [a.status_code for a in answers] == [200] * calls
    assert all(a.json()["health"]["services"]["writer"] == "ok" for a in answers)
    # A round asks the writer for /health and /ready: at most one round per cache
    # period (plus the one a period boundary may fall into), not one per call.
    rounds = (len(writer.probes) - before) / 2
    assert rounds <= elapsed / cache_seconds + 1, (rounds, elapsed)


async def test_freshness_is_the_newest_row_of_each_source_and_flags_simulated(
    caller: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool, candle_store, market
) -> None:  # type: ignore[no-untyped-def]
    _, client = caller
    # Rows newer than anything stored so far, so that they are the newest.
    newest = await db_pool.fetchrow(
        """SELECT (SELECT max(datetime) FROM crypto_prices) AS crypto,
                  (SELECT max(datetime) FROM stock_prices) AS stocks,
                  (SELECT max(datetime) FROM weather_historic) AS weather"""
    )
    assert newest is not None
    floor = T0 + 1000 * HOUR
    crypto_t = max(newest["crypto"] or floor, floor) + HOUR
    stock_day = (max(newest["stocks"] or floor, floor) + timedelta(days=1)).date()
    weather_t = max(newest["weather"] or floor, floor) + HOUR

    fresh_pair = pair()
    await candle_store(db_pool, fresh_pair, "1h", [flat(crypto_t, "1")], source="simulated")
    stock = market.unique_symbol("DF")
    await market.stock(stock)
    await market.bars(stock, [(stock_day, "1", "1", "1", "1", "1")], source="nasdaq")
    place = await market.new_location()
    await market.observations(
        place, "historic", [(weather_t, 1.0, 1.0, 1.0, 1.0, "x")], source="simulated"
    )

    body = await dashboard(client)
    generated = datetime.fromisoformat(body["generated_at"])
    freshness = body["freshness"]
    assert freshness["crypto"]["table"] == "crypto_prices"
    assert datetime.fromisoformat(freshness["crypto"]["last"]) == crypto_t
    assert freshness["crypto"]["simulated"] is True
    assert freshness["crypto"]["age_seconds"] == pytest.approx(
        (generated - crypto_t).total_seconds(), abs=0.01
    )
    assert freshness["stocks"]["last"] == f"{stock_day.isoformat()}T00:00:00Z"
    assert freshness["stocks"]["simulated"] is False
    assert freshness["weather"] == {
        "table": "weather_historic",
        "last": weather_t.isoformat().replace("+00:00", "Z"),
        "age_seconds": pytest.approx((generated - weather_t).total_seconds(), abs=0.01),
        "simulated": True,
    }

    # A real candle at the same time as the simulated one: some newest rows are
    # still simulated. One later than it: none are.
    await candle_store(db_pool, pair(), "1h", [flat(crypto_t, "1")])
    assert (await dashboard(client))["freshness"]["crypto"]["simulated"] is True
    await candle_store(db_pool, pair(), "1h", [flat(crypto_t + HOUR, "1")])
    crypto = (await dashboard(client))["freshness"]["crypto"]
    assert (crypto["last"], crypto["simulated"]) == (
        (crypto_t + HOUR).isoformat().replace("+00:00", "Z"),
        False,
    )


async def test_anonymous_is_401_and_the_dashboard_is_in_the_openapi_document(
    anonymous_api: httpx.AsyncClient, user_api: httpx.AsyncClient
) -> None:
    assert (await anonymous_api.get(DASHBOARD)).status_code == 401
    document = (await user_api.get("/api/openapi.json")).json()
    schema = document["paths"][DASHBOARD]["get"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"] == {"$ref": "#/components/schemas/Dashboard"}
    properties = document["components"]["schemas"]["Dashboard"]["properties"]
    assert set(properties) == {
        "generated_at",
        "crypto",
        "stocks",
        "weather",
        "batches",
        "health",
        "freshness",
    }


# --- a service that accepts connections and never answers --------------------


@pytest.fixture(scope="module")
def hung_service() -> Iterator[str]:
    """A listening socket that is never accepted from: requests to it hang."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture(scope="module")
async def gateway_with_hung_service(
    service_env: dict[str, str],
    log_dir: Path,
    stub_services,  # type: ignore[no-untyped-def]
    hung_service: str,
    bus: Bus,
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    env = {
        **service_env,
        "GATEWAY_PORT": str(port),
        "INGEST_CRYPTO_URL": stub_services["ingest-crypto"].url,
        "INGEST_STOCKS_URL": stub_services["ingest-stocks"].url,
        "INGEST_WEATHER_URL": hung_service,
        "WRITER_URL": stub_services["writer"].url,
        "AUTH_URL": stub_services["auth"].url,
        "WEB_URL": stub_services["web"].url,
        "SERVICE_PROBE_TIMEOUT_SECONDS": "30",  # the dashboard caps it at 1 s
    }
    process = ServiceProcess("ticktide_gateway", env, port, log_dir, name="gateway-hung-probe")
    await process.start()
    yield process
    process.stop()


async def test_a_hung_service_is_down_and_the_dashboard_still_answers_quickly(
    gateway_with_hung_service: ServiceProcess, user_token: str
) -> None:
    async with httpx.AsyncClient(
        base_url=gateway_with_hung_service.url, timeout=30.0, headers=bearer(user_token)
    ) as client:
        started = time.perf_counter()
        answer = await client.get(DASHBOARD)
        elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    health = answer.json()["health"]
    assert health["services"]["ingest-weather"] == "down"
    assert health["services"]["writer"] == "ok"
    assert health["status"] == "degraded"
    assert elapsed < 2.5, elapsed
