"""Fixtures of the gateway's integration tests: small real HTTP servers standing in
for auth, ingest-crypto and writer, the real gateway as a subprocess, users with
API tokens made in the database, and helpers that store candles, stock bars and
weather observations with SQL (the writer's path is tested by the writer)."""

from __future__ import annotations

import json
import random
import string
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.cache import LATEST_STOCKS, ResponseCache, location_series, stock_series

# What the fake auth service publishes as its OpenAPI document: one path, one
# component named like one of the gateway's but different (the merge renames it).
FAKE_AUTH_OPENAPI: dict[str, object] = {
    "openapi": "3.1.0",
    "info": {"title": "fake auth", "version": "stub"},
    "paths": {
        "/api/auth/login": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Login"}}
                    }
                },
                "responses": {
                    "422": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                            }
                        }
                    }
                },
            }
        },
        "/health": {"get": {"responses": {"200": {"description": "not under /api"}}}},
    },
    "components": {
        "schemas": {
            "Login": {"type": "object", "properties": {"username": {"type": "string"}}},
            "HTTPValidationError": {"type": "object", "title": "auth's own"},
        }
    },
}


class StubService:
    """A real HTTP server answering `/health` and `/ready` like a Ticktide service.
    As "auth" it also serves `/api/auth/openapi.json` and answers every `/api/...` request
    with a JSON echo of what it received (method, path, query, headers, body),
    setting two cookies, so that the gateway's proxy can be checked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self.probes: list[str] = []  # every /health and /ready asked (appends are atomic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        name = self.name
        probes = self.probes

        class Handler(BaseHTTPRequestHandler):
            def _send_json(
                self, status: int, body: object, extra: Sequence[tuple[str, str]] = ()
            ) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for header, value in extra:
                    self.send_header(header, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _echo(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = self.rfile.read(length).decode(errors="replace")
                path, _, query = self.path.partition("?")
                status = 418 if path.endswith("/teapot") else 200
                self._send_json(
                    status,
                    {
                        "method": self.command,
                        "path": path,
                        "query": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": received,
                    },
                    [
                        ("Set-Cookie", "first=1; Path=/; HttpOnly"),
                        ("Set-Cookie", "second=2; Path=/; Secure"),
                        ("X-Auth-Echo", "yes"),
                    ],
                )

            def do_GET(self) -> None:  # noqa: N802 - http.server's names
                if self.path in ("/health", "/ready"):
                    probes.append(self.path)
                if self.path == "/health":
                    self._send_json(200, {"status": "ok", "service": name, "version": "stub"})
                elif self.path == "/ready":
                    self._send_json(200, {"status": "ok", "service": name, "checks": {}})
                elif name == "auth" and self.path == "/api/auth/openapi.json":
                    self._send_json(200, FAKE_AUTH_OPENAPI)
                elif name == "auth" and self.path.startswith("/api/"):
                    self._echo()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802
                if name == "auth":
                    self._echo()
                else:
                    self.send_error(404)

            do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture(scope="session")
def stub_services() -> Iterator[dict[str, StubService]]:
    names = ("auth", "ingest-crypto", "ingest-stocks", "ingest-weather", "writer", "web")
    stubs = {name: StubService(name) for name in names}
    for stub in stubs.values():
        stub.start()
    yield stubs
    for stub in stubs.values():
        stub.stop()


@pytest.fixture
async def gateway_without_redis(
    service_env: dict[str, str], log_dir: Path, stub_services: dict[str, StubService]
) -> AsyncIterator[ServiceProcess]:
    """A gateway of its own whose Redis is a port nobody listens on: no session can
    be checked (what the session store's outage does)."""
    port = free_port()
    env = {
        **service_env,
        "GATEWAY_PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "AUTH_URL": stub_services["auth"].url,
        "INGEST_CRYPTO_URL": stub_services["ingest-crypto"].url,
        "WRITER_URL": stub_services["writer"].url,
    }
    process = await ServiceProcess(
        "ticktide_gateway", env, port, log_dir, "gateway-no-redis"
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
async def gateway(
    service_env: dict[str, str],
    log_dir: Path,
    stub_services: dict[str, StubService],
    bus: Bus,
) -> AsyncIterator[ServiceProcess]:
    # `bus` is set up first, so it is torn down (deleting the run's queues) only
    # after this gateway stopped: a live consumer would declare its queues again.
    port = free_port()
    env = {
        **service_env,
        "GATEWAY_PORT": str(port),
        "INGEST_CRYPTO_URL": stub_services["ingest-crypto"].url,
        "INGEST_STOCKS_URL": stub_services["ingest-stocks"].url,
        "INGEST_WEATHER_URL": stub_services["ingest-weather"].url,
        "WRITER_URL": stub_services["writer"].url,
        "AUTH_URL": stub_services["auth"].url,
        "WEB_URL": stub_services["web"].url,
        "METRICS_FLUSH_SECONDS": "0.5",
        "METRICS_FLUSH_ROWS": "1000",
        "SERVICE_PROBE_TIMEOUT_SECONDS": "1.5",
        "MAX_CANDLES_PER_REQUEST": "20000",
    }
    process = ServiceProcess("ticktide_gateway", env, port, log_dir, name="gateway")
    await process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def admin_user(db_pool: asyncpg.Pool) -> tuple[int, str, str]:
    """(user id, username, API token) of an admin."""
    user_id, username = await create_test_user(db_pool, role="admin")
    return user_id, username, await create_test_token(db_pool, user_id)


@pytest.fixture(scope="session")
def admin_token(admin_user: tuple[int, str, str]) -> str:
    return admin_user[2]


@pytest.fixture(scope="session")
async def user_token(db_pool: asyncpg.Pool) -> str:
    user_id, _ = await create_test_user(db_pool, role="user")
    return await create_test_token(db_pool, user_id)


@pytest.fixture
async def api(gateway: ServiceProcess, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway signed in as an admin (API token)."""
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=10.0, headers=bearer(admin_token)
    ) as client:
        yield client


@pytest.fixture
async def anonymous_api(gateway: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as client:
        yield client


Candle = tuple[datetime, str, str, str, str, str]


@pytest.fixture(scope="session")
def candle_store():  # type: ignore[no-untyped-def]
    """`await candle_store(pool, symbol, interval, candles, source=...)`."""
    return store_candles


async def store_candles(
    pool: asyncpg.Pool,
    symbol: str,
    interval: str,
    candles: Sequence[Candle],
    source: str = "binance",
) -> int:
    """Create the symbol if needed and upsert candles, marking their price pieces
    unrendered as the writer does; returns its crypto id."""
    crypto_id = await pool.fetchval(
        """INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $2)
           ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true RETURNING id""",
        symbol.removesuffix("USDT"),
        symbol,
    )
    await pool.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                                      low_price, close_price, volume, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (crypto_id, interval_type, datetime) DO UPDATE
           SET open_price = EXCLUDED.open_price, source = EXCLUDED.source""",
        [
            (crypto_id, t, interval, *(Decimal(x) for x in (o, h, lo, c, v)), source)
            for t, o, h, lo, c, v in candles
        ],
    )
    if candles:
        # As the writer does in the same transaction: the price pieces these
        # candles fall in are no longer rendered (a rendered one would be stale).
        times = [candle[0] for candle in candles]
        await pool.execute(
            """INSERT INTO crypto_price_pieces AS p (crypto_id, interval_type, piece_start)
               SELECT $1, $2, crypto_pieces_between($2, $3, $4) ORDER BY 3
               ON CONFLICT (crypto_id, interval_type, piece_start) DO UPDATE
               SET version = p.version + 1, rows_piece = NULL, columns_piece = NULL""",
            crypto_id,
            interval,
            min(times),
            max(times),
        )
    return int(crypto_id)


# --- stocks and weather -------------------------------------------------------

StockBar = tuple[date, str | None, str, str, str, str]  # date, o (None: no open), h, l, c, v
Observation = tuple[datetime, float | None, float | None, float | None, float | None, str | None]


class MarketStore:
    """Rows stored with SQL as the writer would, followed by what the writer's
    stored event does to the gateway's cache (a version bump), so that a body
    cached by an earlier test is not served stale."""

    def __init__(self, pool: asyncpg.Pool, redis: Redis, prefix: str) -> None:
        self.pool = pool
        self.cache = ResponseCache(redis, prefix, 60)

    async def stock(
        self, symbol: str, exchange: str = "NASDAQ", name: str | None = None, active: bool = True
    ) -> int:
        stock_id = await self.pool.fetchval(
            """INSERT INTO stocks (symbol, name, exchange, currency, provider_symbol, is_active)
               VALUES ($1, $2, $3, $4, $1, $5)
               ON CONFLICT (symbol) DO UPDATE SET is_active = EXCLUDED.is_active RETURNING id""",
            symbol,
            name or f"{symbol} Corp",
            exchange,
            "USD" if exchange == "NASDAQ" else "EUR",
            active,
        )
        await self.cache.invalidate([stock_series(symbol), LATEST_STOCKS])
        return int(stock_id)

    async def bars(
        self,
        symbol: str,
        bars: Sequence[StockBar],
        source: str = "nasdaq",
        *,
        invalidate: bool = True,
    ) -> None:
        stock_id = await self.pool.fetchval("SELECT id FROM stocks WHERE symbol = $1", symbol)
        assert stock_id is not None, symbol
        await self.pool.executemany(
            """INSERT INTO stock_prices (stock_id, datetime, open_price, high_price, low_price,
                                         close_price, volume, source)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (stock_id, datetime) DO UPDATE
               SET open_price = EXCLUDED.open_price, high_price = EXCLUDED.high_price,
                   low_price = EXCLUDED.low_price, close_price = EXCLUDED.close_price,
                   volume = EXCLUDED.volume, source = EXCLUDED.source""",
            [
                (
                    stock_id,
                    datetime.combine(day, time(0), tzinfo=UTC),
                    Decimal(o) if o is not None else None,
                    *(Decimal(x) for x in (h, lo, c, v)),
                    source,
                )
                for day, o, h, lo, c, v in bars
            ],
        )
        if invalidate:
            await self.cache.invalidate([stock_series(symbol), LATEST_STOCKS])

    @staticmethod
    def unique_symbol(prefix: str = "T") -> str:
        return f"{prefix}{uuid.uuid4().hex[:8].upper()}"

    async def new_location(self) -> str:
        """A configured location of its own (letters only: the location pattern)."""
        name = "Test " + "".join(random.choices(string.ascii_lowercase, k=10)).capitalize()
        await self.location(name)
        return name

    async def location(self, name: str) -> None:
        await self.pool.execute(
            "INSERT INTO weather_locations (name, latitude, longitude) VALUES ($1, 60.0, 25.0)"
            " ON CONFLICT DO NOTHING",
            name,
        )

    async def observations(
        self,
        location: str,
        kind: str,
        rows: Sequence[Observation],
        source: str = "open-meteo",
        *,
        invalidate: bool = True,
    ) -> None:
        table = {"current": "weather_current", "historic": "weather_historic"}[kind]
        await self.pool.executemany(
            f"""INSERT INTO {table} (location, datetime, temperature, humidity, pressure,
                                     wind_speed, description, source, weather_data)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{{}}'::jsonb)""",
            [(location, *row, source) for row in rows],
        )
        if invalidate:
            await self.cache.invalidate([location_series(location)])


@pytest.fixture(scope="session")
def market(db_pool: asyncpg.Pool, redis_client: Redis, settings: RedisSettings) -> MarketStore:
    return MarketStore(db_pool, redis_client, settings.ticktide_redis_prefix)


@pytest.fixture
async def user_api(gateway: ServiceProcess, user_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway signed in as a plain user (API token)."""
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=10.0, headers=bearer(user_token)
    ) as client:
        yield client
