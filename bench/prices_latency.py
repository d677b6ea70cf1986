"""Bench: latency of `GET /api/crypto/prices` for one year of 1h candles (8,760),
served by a real gateway process, cached (Redis hit) and uncached (PostgreSQL,
serialization and cache store on every request), and of the daily aggregate of
five years of those hourly candles (`GET /api/crypto/aggregates?bucket=1d`,
1,826 days, never cached), on two legs side by side: plain PostgreSQL (the
configured server) and TimescaleDB (`TICKTIDE_TIMESCALEDB_DSN`, else the cluster
`scripts/ensure-timescaledb.sh` starts; the leg is skipped with a notice where
there is none). On TimescaleDB the bench database is what production reaches:
chunks older than 30 days compressed, the daily aggregate materialized, so the
year is read from compressed chunks and the five years from the real-time
continuous aggregate.

Beside those rows (issue 2's, straight to the gateway, identity), issue 13's
matrix for the same series: one year (2023) and five years (2019-2023) of 1h
candles; raw (nothing rendered anywhere: the range's Redis pieces invalidated
and PostgreSQL's rendered pieces cleared, as a write of the whole range leaves
them), cold (the Redis pieces invalidated, PostgreSQL's rendered pieces kept:
after a Redis restart, an eviction or the TTL), newest-stale (what a new candle
does: only the last hour's piece cleared in both) and cached (the same request
again); the default shape and `format=columns`;
`Accept-Encoding: gzip, br` and none; straight to the gateway's port (HTTP/1.1,
the KeepAliveClient) and through nginx as a browser meets it (tests/edge.py's
nginx, the template `make up` renders: HTTP/2 over TLS, one connection, httpx
reading the raw bytes without decoding them). Each row prints the bytes on the
wire (the encoded body), p50/p99 from sending the request to the last byte, and
the issue's target where it sets one. Each cached case is also timed with curl
over one connection (through nginx HTTP/2 and TLS, straight to the gateway
HTTP/1.1 keep-alive; `%{time_total}` per transfer): a client in C, as a
browser's network stack is. The curl row carries the cached case's latency
target; the Python clients' rows beside it print theirs without one, since
httpx's pure-Python HTTP/2 spends more per frame than nginx does and asyncio's
reads of a megabyte add a client's cost to the gateway's. Then the throughput
of cached one-year requests through nginx, measured with `wrk` (Debian package,
installed by `scripts/ensure-wrk.sh`; HTTP/1.1 over TLS, 2 threads, 16
connections, 10 s).

A fresh database on each server holds the five years; the gateway runs as
`python -m ticktide_gateway` on a free port with its own bus and Redis prefixes
(MAX_CANDLES_PER_REQUEST=50000, so that five years fit one answer); everything is
removed afterwards. Uncached requests are forced outside the timed section by
`ticktide_gateway.crypto.price_cache.invalidate_stored` over the pieces concerned,
the code path of a `CandlesStoredV1`; before each one the bench waits until the
gateway's CPU time stops moving, so that the previous answer's background work
(storing its pieces, compressing its body) is not timed into the next one.
Requests are authenticated with an API token of a user made in the bench
database (as every `/api` route requires), so the figures include the gateway's
credential check.

The candles are a random walk printed as Binance prints klines: prices on the
symbol's 0.01 tick and volumes on its 0.00001 lot, each written with 8 decimals
(`"42283.58000000"`, `"1271.68108000"`), so that compressed sizes are what a
user of real data sees (random 8-digit tails would not compress like that).

Targets: issue 2: cached p99 < 5 ms, uncached p99 < 25 ms. Issue 13: one year
cached p99 < 2 ms at the gateway and < 5 ms through nginx, under 200 KB on the
wire compressed; one year uncached p99 < 10 ms; five years cached < 10 ms,
uncached < 60 ms; >= 1,000 cached one-year requests/s through nginx.

    uv run python bench/prices_latency.py [--requests 200] [--leg both|plain|timescaledb]
        [--matrix/--no-matrix]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import asyncpg
import httpx
from redis.asyncio import Redis

from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.migrate import apply_migrations
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.settings import GatewaySettings
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.repository import PRICE_COLUMNS
from ticktide_writer.service import copy_text

try:  # issue 13's pieces cache; before it, the series' one version key
    from ticktide_gateway.crypto.price_cache import invalidate_stored
except ImportError:  # pragma: no cover - an older gateway
    invalidate_stored = None  # type: ignore[assignment]

# tests/edge.py (nginx as `make up` runs it) lives beside bench/ at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.edge import NginxEdge, find_nginx, start_nginx  # noqa: E402

SYMBOL = "BENCHUSDT"
HISTORY_START = datetime(2019, 1, 1, tzinfo=UTC)
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)
HISTORY_END = datetime(2024, 1, 1, tzinfo=UTC)
HOURS = int((HISTORY_END - HISTORY_START) / timedelta(hours=1))  # five years: 43,824
CANDLES = 8760  # the year of YEAR_START
DAYS = (HISTORY_END - HISTORY_START).days  # 1,826
TARGET_P99_MS = {"cached": 5.0, "uncached": 25.0, "daily-5y": 25.0}
REPO = Path(__file__).resolve().parents[1]
TICK, LOT = Decimal("0.01"), Decimal("0.00001")  # BTCUSDT's price tick and volume lot
PRINTED = Decimal("0.00000001")  # Binance prints both with 8 decimals


def _replace_database(dsn: str, database: str) -> str:
    base, _, rest = dsn.rpartition("/")
    _, _, query = rest.partition("?")
    return f"{base}/{database}" + (f"?{query}" if query else "")


def year_of_candles(seed: int = 7) -> list[tuple[Any, ...]]:
    """Five years of a random walk as Binance prints klines: prices on a 0.01 tick,
    volumes on a 0.00001 lot, both with 8 decimals ("42283.58000000")."""
    rng = random.Random(seed)
    price = 16500.0
    rows: list[tuple[Any, ...]] = []
    for i in range(HOURS):
        open_ = price
        close = max(1.0, open_ * (1 + rng.gauss(0, 0.004)))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.002)))
        volume = abs(rng.gauss(1200, 400))
        rows.append(
            (
                HISTORY_START + timedelta(hours=i),
                *(_printed(x, TICK) for x in (open_, high, low, close)),
                _printed(volume, LOT),
            )
        )
        price = close
    return rows


def _printed(value: float, step: Decimal) -> Decimal:
    """`value` on the market's `step`, with Binance's 8 printed decimals."""
    return Decimal(repr(value)).quantize(step).quantize(PRINTED)


async def _prepare_database(admin_dsn: str, name: str) -> tuple[str, str, bool]:
    """The migrated bench database holding the five years, an API token of a user,
    and whether the database has TimescaleDB (asked, not assumed)."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _replace_database(admin_dsn, name)
    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        crypto_id = await connection.fetchval(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
            " VALUES ('BENCH', 'Bench coin', $1) RETURNING id",
            SYMBOL,
        )
        # Stored as the writer stores a fresh batch (its COPY text, `candle_json` included).
        batch = CandleBatchV1.model_construct(
            batch_id=uuid.uuid4(),
            job_id=None,
            symbol=SYMBOL,
            interval="1h",
            source="binance",
            candles=[
                CandleV1.model_construct(t=t, o=str(o), h=str(h), l=str(lo), c=str(c), v=str(v))
                for t, o, h, lo, c, v in year_of_candles()
            ],
        )
        rendered = copy_text(crypto_id, DeliveredBatch.from_message(batch))
        assert rendered is not None
        await connection.copy_to_table(
            "crypto_prices",
            source=io.BytesIO(rendered[0].encode()),
            columns=PRICE_COLUMNS,
            format="text",
        )
        timescaledb = bool(
            await connection.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        )
        if timescaledb:  # what the policies leave behind in production
            await connection.execute(
                "SELECT compress_chunk(c, if_not_compressed => true)"
                " FROM show_chunks('crypto_prices', older_than => INTERVAL '30 days') c"
            )
            await connection.execute(
                "CALL refresh_continuous_aggregate('crypto_prices_daily', NULL, NULL)"
            )
        await connection.execute("ANALYZE")
        # A Connection has the pool methods the helpers use.
        user_id, _ = await create_test_user(connection)  # type: ignore[arg-type]
        token = await create_test_token(connection, user_id, name="bench")  # type: ignore[arg-type]
    finally:
        await connection.close()
    return dsn, token, timescaledb


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client, so that the figures are the
    gateway's latency rather than a client library's parsing overhead. Timing
    runs from writing the request to reading the last byte of the body."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self._extra_headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveClient:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 22
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def ready(self) -> None:
        """One connection for the whole run (uvicorn sets no request limit)."""

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{self._extra_headers}\r\n".encode()
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self._reader.readexactly(int(headers["content-length"]))
        return status, headers, body


class EdgeClient:
    """nginx as a browser meets it: HTTP/2 over TLS, one connection reused. The
    body is read raw (`aiter_raw`): the client spends no time decoding it, and its
    length is the bytes on the wire. Timing includes httpx's own work per request."""

    def __init__(self, edge: NginxEdge, headers: dict[str, str]) -> None:
        self._edge, self._headers = edge, headers
        self._client = self._new_client()
        self._sent = 0

    def _new_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=self._edge.url,
            http2=True,
            verify=ssl.create_default_context(cafile=str(self._edge.ca_bundle)),
            headers=self._headers,
            timeout=30.0,
        )
        if "accept-encoding" not in {name.lower() for name in self._headers}:
            del client.headers["accept-encoding"]  # httpx's default asks for gzip
        return client

    async def __aenter__(self) -> EdgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def ready(self) -> None:
        """Before a timed request: a new connection (TLS handshake, one untimed
        request) when this one nears nginx's limit of requests per connection
        (`keepalive_requests`, 1,000 by default), which a browser meets too but
        which is not what a cached answer costs."""
        if self._sent < REQUESTS_PER_CONNECTION:
            return
        await self._client.aclose()
        self._client = self._new_client()
        self._sent = 0
        await self.get("/api/health")

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        self._sent += 1
        async with self._client.stream("GET", target) as response:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        if response.http_version != "HTTP/2":
            raise RuntimeError(f"nginx answered over {response.http_version}, not HTTP/2")
        return response.status_code, dict(response.headers), body


class PriceClient(Protocol):
    async def ready(self) -> None: ...

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]: ...


@dataclass
class Timed:
    timings: list[float]
    wire_bytes: int  # the last answer's body as sent (encoded)
    codings: str  # the Content-Encoding(s) seen


async def _measure_wire(
    client: PriceClient,
    target: str,
    requests: int,
    expect_cache: str | None,
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> Timed:
    timings: list[float] = []
    wire_bytes, codings = 0, set()
    for _ in range(requests):
        if before_each is not None:
            await before_each()
        await client.ready()
        started = time.perf_counter()
        status, headers, body = await client.get(target)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200 or headers.get("x-cache") != expect_cache:
            raise RuntimeError(
                f"unexpected answer {status} x-cache={headers.get('x-cache')}: {body[:200]!r}"
            )
        timings.append(elapsed)
        wire_bytes = len(body)
        codings.add(headers.get("content-encoding", "identity"))
    return Timed(timings, wire_bytes, "/".join(sorted(codings)))


async def _measure(
    client: PriceClient,
    target: str,
    requests: int,
    expect_cache: str | None,
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> list[float]:
    return (await _measure_wire(client, target, requests, expect_cache, before_each)).timings


def _cpu_ticks(pid: int) -> int:
    """The process's user + system CPU time in clock ticks (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def wait_until_idle(pid: int, quiet: float = 0.05, timeout: float = 10.0) -> None:
    """Until the process has used no CPU for `quiet` seconds: the previous answer's
    background work (storing pieces, compressing the body) is done."""
    deadline = time.monotonic() + timeout
    last, quiet_since = _cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.005)
        ticks = _cpu_ticks(pid)
        if ticks != last:
            last, quiet_since = ticks, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return


def timescaledb_admin_dsn() -> str | None:
    """The TimescaleDB cluster's admin DSN, or None (with the reason printed)."""
    if dsn := os.environ.get("TICKTIDE_TIMESCALEDB_DSN"):
        return dsn
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-timescaledb.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        print(f"prices_latency: TimescaleDB leg skipped: {done.stderr.strip()}")
        return None
    return done.stdout.strip().splitlines()[-1]


async def run(
    requests: int = 200, leg: str = "both", matrix: bool = True, only: str | None = None
) -> list[dict[str, Any]]:
    base = GatewaySettings()  # the environment, then .env: the servers of this installation
    legs: list[tuple[str, str]] = []
    if leg in ("both", "plain"):
        legs.append(("plain", _replace_database(base.database_url, "postgres")))
    if leg in ("both", "timescaledb"):
        dsn = timescaledb_admin_dsn()
        if dsn is not None:
            legs.append(("timescaledb", dsn))
    rows: list[dict[str, Any]] = []
    for name, admin_dsn in legs:
        rows.extend(await run_leg(base, name, admin_dsn, requests, matrix, only))
    return rows


# Issue 13's matrix.
SPANS = {  # name: (start, end, candles)
    "1y": (YEAR_START, HISTORY_END, CANDLES),
    "5y": (HISTORY_START, HISTORY_END, HOURS),
}
# In this order: each leaves the next warm. raw: nothing rendered anywhere (the
# Redis pieces and PostgreSQL's rendered pieces of the range cleared, as after a
# write of the whole range); cold: the Redis pieces invalidated (after a Redis
# restart, an eviction, the TTL), PostgreSQL's rendered pieces kept;
# newest-stale: what a new candle does (the newest piece cleared in both).
STATES = ("raw", "cold", "newest-stale", "cached")
SHAPES = ("default", "columns")
ENCODINGS = ("gzip, br", "identity")  # identity: no Accept-Encoding at all
COMPRESSED_WIRE_TARGET = 200_000  # bytes, one year compressed
THROUGHPUT_TARGET = 1000.0  # cached one-year requests/s through nginx
REQUESTS_PER_CONNECTION = 900  # below nginx's keepalive_requests (1,000)


@dataclass(frozen=True)
class Case:
    path: str  # gateway | nginx
    span: str  # 1y | 5y
    state: str  # cached | cold | newest-stale | raw
    shape: str  # default | columns
    encoding: str  # "gzip, br" | identity

    def target(self) -> str:
        params = {
            "symbol": SYMBOL,
            "interval": "1h",
            "start": f"{SPANS[self.span][0]:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{SPANS[self.span][1]:%Y-%m-%dT%H:%M:%SZ}",
        }
        if self.shape == "columns":
            params["format"] = "columns"
        return f"/api/crypto/prices?{urlencode(params)}"

    def target_p99_ms(self) -> float | None:
        """Issue 13's latency targets (the uncached ones are the gateway's time)."""
        if self.state == "cached":
            if self.span == "1y":
                return 2.0 if self.path == "gateway" else 5.0
            return 10.0
        if self.state == "cold" and self.path == "gateway":
            return 10.0 if self.span == "1y" else 60.0
        return None

    def target_wire_bytes(self) -> int | None:
        """Under 200 KB on the wire, compressed, for one cached year (issue 13's
        target): what a browser downloads once the answer is cached. (A miss
        through nginx is compressed by nginx on the fly, at its gzip level; its
        bytes are printed without a target.)"""
        compressed = self.encoding != "identity" and self.span == "1y"
        if compressed and self.state == "cached":
            return COMPRESSED_WIRE_TARGET
        return None


def cases_per_state(requests: int) -> dict[tuple[str, str], int]:
    """Timed requests per (span, state): uncached ones cost more, fewer of them."""
    return {
        ("1y", "cached"): requests,
        ("5y", "cached"): requests,
        ("1y", "raw"): max(10, requests // 10),
        ("1y", "cold"): max(10, requests // 10),
        ("1y", "newest-stale"): max(10, requests // 10),
        ("5y", "raw"): max(5, requests // 40),
        ("5y", "cold"): max(5, requests // 40),
        ("5y", "newest-stale"): max(5, requests // 40),
    }


# What the writer does to PostgreSQL's rendered pieces when it stores candles
# (services/writer's repository; before issue 13's table there is nothing to do).
# Rows locked in piece order, as the writer and the gateway's write-back lock them
# (an unordered UPDATE deadlocked with a write-back of the same pieces).
_CLEAR_RENDERED = """
UPDATE crypto_price_pieces AS p
SET version = p.version + 1, rows_piece = NULL, columns_piece = NULL
FROM (
    SELECT crypto_id, interval_type, piece_start FROM crypto_price_pieces
    WHERE crypto_id = (SELECT id FROM cryptocurrencies WHERE binance_symbol = $1)
      AND interval_type = '1h' AND piece_start >= crypto_piece_start('1h', $2)
      AND piece_start <= $3
    ORDER BY piece_start
    FOR UPDATE
) AS locked
WHERE p.crypto_id = locked.crypto_id AND p.interval_type = locked.interval_type
  AND p.piece_start = locked.piece_start
"""


async def clear_rendered(
    connection: asyncpg.Connection, first_t: datetime, last_t: datetime
) -> None:
    """PostgreSQL's rendered pieces holding [first_t, last_t] made stale, as a stored
    batch makes them (nothing where the table does not exist)."""
    if await connection.fetchval("SELECT to_regclass('crypto_price_pieces') IS NOT NULL"):
        await connection.execute(_CLEAR_RENDERED, SYMBOL, first_t, last_t)


async def invalidate_range(redis: Redis, prefix: str, first_t: datetime, last_t: datetime) -> None:
    """What the gateway does on a `CandlesStoredV1` with open times [first_t, last_t]."""
    if invalidate_stored is not None:
        await invalidate_stored(redis, prefix, SYMBOL, "1h", first_t, last_t)
        return
    await redis.incr(f"{prefix}gateway:prices-version:{SYMBOL}:1h")  # before the pieces
    stale = await redis.smembers(f"{prefix}gateway:prices-keys:{SYMBOL}:1h")
    if stale:
        await redis.unlink(*stale)


async def run_matrix(
    leg: str,
    gateway: ServiceProcess,
    edge: NginxEdge | None,
    token: str,
    redis: Redis,
    redis_prefix: str,
    requests: int,
    database: asyncpg.Connection,
    only: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, datetime, datetime]]]:
    """Every case of the matrix on this leg (those whose label
    `path|span|state|shape|encoding` matches `only`, when given): its rows
    (without server-side times) and the time window of each row's timed requests."""
    pid = gateway.process.pid if gateway.process is not None else None
    counts = cases_per_state(requests)
    rows: list[dict[str, Any]] = []
    windows: dict[str, tuple[str, datetime, datetime]] = {}

    async def idle() -> None:
        if pid is not None:
            await wait_until_idle(pid)

    paths = ["gateway"] + (["nginx"] if edge is not None else [])
    curl = shutil.which("curl")
    for path in paths:
        for encoding in ENCODINGS:
            headers = bearer(token)
            if encoding != "identity":
                headers["Accept-Encoding"] = encoding
            client: Any
            if path == "gateway":
                client = KeepAliveClient("127.0.0.1", gateway.port, headers)
            else:
                assert edge is not None
                client = EdgeClient(edge, headers)
            async with client:
                for span, (first, end, candles) in SPANS.items():
                    last_hour = end - timedelta(hours=1)
                    for shape in SHAPES:
                        for state in STATES:
                            case = Case(path, span, state, shape, encoding)
                            label = f"{path}|{span}|{state}|{shape}|{encoding}"
                            if only is not None and not re.search(only, label):
                                continue
                            target = case.target()

                            async def raw(
                                first: datetime = first, last: datetime = last_hour
                            ) -> None:
                                await idle()
                                await clear_rendered(database, first, last)
                                await invalidate_range(redis, redis_prefix, first, last)

                            async def cold(
                                first: datetime = first, last: datetime = last_hour
                            ) -> None:
                                await idle()
                                await invalidate_range(redis, redis_prefix, first, last)

                            async def stale(last: datetime = last_hour) -> None:
                                await idle()
                                await clear_rendered(database, last, last)
                                await invalidate_range(redis, redis_prefix, last, last)

                            before: Callable[[], Awaitable[None]] | None = None
                            if state == "raw":
                                before = raw
                            elif state == "cold":
                                before = cold
                            elif state == "newest-stale":
                                before = stale
                            expect = "hit" if state == "cached" else "miss"
                            if state == "cached":
                                await _until_stored_coded(client, target, encoding, idle, stale)
                                await _measure(client, target, 10, "hit")
                            else:
                                await _measure(client, target, 2, "miss", before)
                            await idle()
                            since = datetime.now(UTC)
                            timed = await _measure_wire(
                                client, target, counts[(span, state)], expect, before
                            )
                            windows[label] = ("/api/crypto/prices", since, datetime.now(UTC))
                            by_curl = state == "cached" and curl is not None
                            rows.append(_matrix_row(leg, case, candles, timed, label, not by_curl))
                            if state == "cached" and curl is not None:
                                base_url = gateway.url if path == "gateway" else ""
                                if path == "nginx":
                                    assert edge is not None
                                    base_url = edge.url
                                rows.append(
                                    await _curl_row(
                                        curl,
                                        leg,
                                        case,
                                        candles,
                                        base_url,
                                        edge if path == "nginx" else None,
                                        token,
                                        counts,
                                    )
                                )
    return rows, windows


async def _curl_row(
    curl: str,
    leg: str,
    case: Case,
    candles: int,
    base_url: str,
    edge: NginxEdge | None,
    token: str,
    counts: dict[tuple[str, str], int],
) -> dict[str, Any]:
    """The same cached request by curl over one connection for every transfer
    (through nginx: HTTP/2 and TLS; straight to the gateway: HTTP/1.1 keep-alive):
    a client in C, as a browser's network stack is. It carries the case's target:
    the Python clients' rows beside it (httpx's pure-Python HTTP/2, whose per-frame
    work dominates through nginx; the KeepAliveClient's asyncio reads of a
    megabyte) print their figures without one."""
    warm = 5
    timed = await curl_timings(
        curl, base_url, edge, token, case, counts[(case.span, case.state)] + warm
    )
    row = _matrix_row(
        leg, case, candles, Timed(timed.timings[warm:], timed.wire_bytes, timed.codings), ""
    )
    row["path"] = f"{case.path} (curl)"
    row["case"] = f"curl|{case.path}|{case.span}|{case.state}|{case.shape}|{case.encoding}"
    return row


async def curl_timings(
    curl: str, base_url: str, edge: NginxEdge | None, token: str, case: Case, requests: int
) -> Timed:
    """`requests` transfers of the case in one curl process over one connection
    (HTTP/2 over TLS to nginx when `edge` is given, else HTTP/1.1 to `base_url`):
    each one's time_total (request to last byte) and size."""
    command = [curl, "--silent", "--show-error"]
    if edge is not None:
        command += ["--http2", "--cacert", str(edge.ca_bundle)]
        expected_version = "2"
    else:
        command += ["--http1.1"]
        expected_version = "1.1"
    command += ["-H", f"Authorization: Bearer {token}"]
    if case.encoding != "identity":
        command += ["-H", f"Accept-Encoding: {case.encoding}"]
    command += [
        "--write-out",
        "%{http_code}|%{http_version}|%{time_total}|%{size_download}|%header{content-encoding}"
        "|%{num_connects}\\n",
    ]
    for _ in range(requests):
        command += [f"{base_url}{case.target()}", "--output", "/dev/null"]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=300, check=False
    )
    answers = [line.split("|") for line in done.stdout.splitlines() if line]
    if done.returncode != 0 or len(answers) != requests:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()[:300]}")
    if any(answer[:2] != ["200", expected_version] for answer in answers):
        raise RuntimeError(f"curl: unexpected answers {sorted({tuple(a[:2]) for a in answers})}")
    if sum(int(answer[5]) for answer in answers) != 1:
        raise RuntimeError("curl opened more than one connection: the figures would time set-ups")
    timings = [float(answer[2]) * 1000 for answer in answers]
    codings = "/".join(sorted({answer[4] or "identity" for answer in answers}))
    return Timed(timings, int(answers[-1][3]), codings)


async def _until_stored_coded(
    client: Any,
    target: str,
    encoding: str,
    idle: Callable[[], Awaitable[None]],
    renew: Callable[[], Awaitable[None]],
) -> None:
    """Until the answer is a hit in the coding the client takes. The compressed
    forms are made in the background after a miss, one compression at a time: a
    miss whose compression was skipped (another one running) stays identity until
    its pieces change, so after a few seconds of identity hits the newest piece is
    renewed (`renew`, as a new candle does) for a fresh miss."""
    wanted = "identity" if encoding == "identity" else "br"
    deadline = time.monotonic() + 30
    renew_at = time.monotonic() + 3
    seen: tuple[str | None, str] = (None, "")
    while time.monotonic() < deadline:
        _, headers, _ = await client.get(target)
        seen = (headers.get("x-cache"), headers.get("content-encoding", "identity"))
        if seen == ("hit", wanted):
            return
        await idle()
        if time.monotonic() > renew_at:
            await renew()
            renew_at = time.monotonic() + 3
    raise RuntimeError(f"{target} is not stored as {wanted}: last answer x-cache/coding {seen}")


def _matrix_row(
    leg: str, case: Case, candles: int, timed: Timed, label: str, timed_by_target: bool = True
) -> dict[str, Any]:
    """One row of the matrix; its latency is judged against the case's target
    unless `timed_by_target` is false (a Python client's row of a cached case,
    beside curl's row that carries the target)."""
    ordered = sorted(timed.timings)
    p99 = _percentile(ordered, 0.99)
    target_ms = case.target_p99_ms() if timed_by_target else None
    target_bytes = case.target_wire_bytes()
    ok: bool | None = None
    if target_ms is not None or target_bytes is not None:
        ok = (target_ms is None or p99 < target_ms) and (
            target_bytes is None or timed.wire_bytes < target_bytes
        )
    return {
        "bench": "prices_latency",
        "leg": leg,
        "case": label,
        "path": case.path,
        "range": case.span,
        "state": case.state,
        "shape": case.shape,
        "encoding": case.encoding,
        "coding": timed.codings,
        "candles": candles,
        "body_bytes": timed.wire_bytes,
        "requests": len(ordered),
        "p50_ms": round(_percentile(ordered, 0.50), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
        "target_p99_ms": target_ms,
        "target_bytes": target_bytes,
        "ok": ok,
    }


def wrk_binary() -> str | None:
    """wrk's path (scripts/ensure-wrk.sh installs it), or None with the reason printed."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-wrk.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        print(f"prices_latency: wrk row skipped: {done.stderr.strip() or 'no wrk'}")
        return None
    return done.stdout.strip().splitlines()[-1]


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_WRK_TOTAL = re.compile(r"^\s+(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", re.M)
_WRK_BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50/p99 latency (ms), requests and non-2xx answers of a
    `wrk --latency` run."""
    rate = _WRK_RATE.search(output)
    total = _WRK_TOTAL.search(output)
    if rate is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    latency = {m[1]: float(m[2]) * _TO_MS[m[3]] for m in _WRK_LATENCY.finditer(output)}
    bad = _WRK_BAD.search(output)
    return {
        "requests_per_s": float(rate[1]),
        "requests": int(total[1]),
        "p50_ms": round(latency.get("50", float("nan")), 2),
        "p99_ms": round(latency.get("99", float("nan")), 2),
        "non_2xx": int(bad[1]) if bad else 0,
    }


async def run_wrk(leg: str, edge: NginxEdge, token: str) -> dict[str, Any] | None:
    """Cached one-year requests through nginx, 2 threads x 16 connections, 10 s."""
    binary = await asyncio.to_thread(wrk_binary)
    if binary is None:
        return None
    case = Case("nginx", "1y", "cached", "default", "gzip, br")
    command = [
        binary,
        "-t2",
        "-c16",
        "-d10s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        "Accept-Encoding: gzip, br",
        f"{edge.url}{case.target()}",
    ]
    load = os.getloadavg()[0]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        print(f"prices_latency: wrk failed ({done.returncode}): {done.stderr.strip()}")
        return None
    figures = parse_wrk(done.stdout)
    return {
        "bench": "prices_latency",
        "leg": leg,
        "case": "wrk|1y|cached|default|gzip, br",
        "path": "nginx (wrk, HTTP/1.1)",
        "range": "1y",
        "state": "cached",
        "shape": "default",
        "encoding": "gzip, br",
        **figures,
        "target_requests_per_s": THROUGHPUT_TARGET,
        "ok": figures["requests_per_s"] >= THROUGHPUT_TARGET and figures["non_2xx"] == 0,
        "load_before": load,
    }


async def run_leg(
    base: GatewaySettings,
    leg: str,
    admin_dsn: str,
    requests: int,
    matrix: bool = True,
    only: str | None = None,
) -> list[dict[str, Any]]:
    load_before = os.getloadavg()[0]  # other work on the machine skews the tail
    run_id = f"bench{uuid.uuid4().hex[:8]}"
    database = f"ticktide_bench_{run_id}"
    redis_prefix = f"{run_id}:"
    dsn, token, timescaledb = await _prepare_database(admin_dsn, database)
    port = free_port()
    proxy_secret = secrets.token_hex(16)
    env = {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": dsn,
        "REDIS_URL": base.redis_url,
        "AMQP_URL": base.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_id,
        "TICKTIDE_REDIS_PREFIX": redis_prefix,
        "TICKTIDE_PROXY_SECRET": proxy_secret,
        "GATEWAY_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "CRYPTO_SCHEDULER_ENABLED": "0",
        "MAX_CANDLES_PER_REQUEST": "50000",  # five years of 1h candles: 43,824
    }
    gateway = ServiceProcess(
        "ticktide_gateway", env, port, Path(tempfile.gettempdir()), name=f"bench-gateway-{run_id}"
    )
    redis = Redis.from_url(base.redis_url)
    params = {
        "symbol": SYMBOL,
        "interval": "1h",
        "start": "2023-01-01T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
    }
    daily_params = {
        "symbol": SYMBOL,
        "bucket": "1d",
        "start": "2019-01-01T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
    }
    edge: NginxEdge | None = None
    edge_dir = tempfile.TemporaryDirectory(prefix=f"{run_id}-nginx-")
    matrix_rows: list[dict[str, Any]] = []
    try:
        await gateway.start()
        target = f"/api/crypto/prices?{urlencode(params)}"
        async with httpx.AsyncClient(
            base_url=gateway.url, timeout=30.0, headers=bearer(token)
        ) as check_client:
            check = (await check_client.get(target)).json()
            daily_target = f"/api/crypto/aggregates?{urlencode(daily_params)}"
            days = (await check_client.get(daily_target)).json()["candles"]
        if len(check["candles"]) != CANDLES:
            raise RuntimeError(f"expected {CANDLES} candles, got {len(check['candles'])}")
        if len(days) != DAYS or {day["n"] for day in days} != {24}:
            raise RuntimeError(f"expected {DAYS} days of 24 hours, got {len(days)}")
        async with KeepAliveClient("127.0.0.1", port, bearer(token)) as client:
            body_bytes = len((await client.get(target))[2])
            pid = gateway.process.pid if gateway.process is not None else None

            async def invalidate() -> None:  # what the gateway does on CandlesStoredV1
                if pid is not None:
                    await wait_until_idle(pid)  # the previous body's background store landed
                await invalidate_range(
                    redis, redis_prefix, YEAR_START, HISTORY_END - timedelta(hours=1)
                )

            await _measure(client, target, 20, "miss", invalidate)  # warm-up
            windows = {"uncached": [datetime.now(UTC)]}
            uncached = await _measure(client, target, requests, "miss", invalidate)
            windows["uncached"].append(datetime.now(UTC))
            await client.get(target)  # stores the body once more
            if pid is not None:
                await wait_until_idle(pid)
            await _measure(client, target, 20, "hit")
            windows["cached"] = [datetime.now(UTC)]
            cached = await _measure(client, target, requests, "hit")
            windows["cached"].append(datetime.now(UTC))
            daily_bytes = len((await client.get(daily_target))[2])
            await _measure(client, daily_target, 20, None)
            windows["daily-5y"] = [datetime.now(UTC)]
            daily = await _measure(client, daily_target, requests, None)
            windows["daily-5y"].append(datetime.now(UTC))
        labelled: dict[str, tuple[str, datetime, datetime]] = {
            case: (
                "/api/crypto/aggregates" if case == "daily-5y" else "/api/crypto/prices",
                since,
                until,
            )
            for case, (since, until) in windows.items()
        }
        if matrix:
            if find_nginx() is None:
                print("prices_latency: the nginx path is skipped: nginx is not installed")
            else:
                edge = await asyncio.to_thread(start_nginx, port, Path(edge_dir.name), proxy_secret)
            load_matrix = os.getloadavg()[0]
            database_connection = await asyncpg.connect(dsn)
            try:
                matrix_rows, matrix_windows = await run_matrix(
                    leg, gateway, edge, token, redis, redis_prefix, requests, database_connection,
                    only,
                )  # fmt: skip
            finally:
                await database_connection.close()
            labelled.update(matrix_windows)
            if edge is not None and (only is None or re.search(only, "wrk")):
                throughput = await run_wrk(leg, edge, token)
                if throughput is not None:
                    matrix_rows.append({"timescaledb": timescaledb, **throughput})
            for row in matrix_rows:
                row.setdefault("timescaledb", timescaledb)
                row.setdefault("load_before", load_matrix)
        server_ms = await _server_side_times(dsn, labelled)
    finally:
        if edge is not None:
            edge.stop()
        edge_dir.cleanup()
        gateway.stop()
        async for key in redis.scan_iter(match=f"{redis_prefix}*", count=500):
            await redis.delete(key)
        await redis.aclose()
        await _delete_bus_names(base.amqp_url, run_id)
        await _drop_database(admin_dsn, database)

    load_after = os.getloadavg()[0]
    rows = []
    cases = (
        ("cached", cached, CANDLES),
        ("uncached", uncached, CANDLES),
        ("daily-5y", daily, DAYS),
    )
    for case, timings, count in cases:
        ordered = sorted(timings)
        p99 = _percentile(ordered, 0.99)
        rows.append(
            {
                "bench": "prices_latency",
                "leg": leg,
                "timescaledb": timescaledb,
                "case": case,
                "candles": count,
                "body_bytes": daily_bytes if case == "daily-5y" else body_bytes,
                "requests": len(ordered),
                "p50_ms": round(_percentile(ordered, 0.50), 2),
                "p99_ms": round(p99, 2),
                "max_ms": round(ordered[-1], 2),
                "target_p99_ms": TARGET_P99_MS[case],
                "server_p50_ms": server_ms[case][0],
                "server_p99_ms": server_ms[case][1],
                "ok": p99 < TARGET_P99_MS[case],
                "load_before": load_before,
                "load_after": load_after,
            }
        )
    for row in matrix_rows:
        row["server_p50_ms"], row["server_p99_ms"] = server_ms.get(row["case"], (None, None))
        row["load_after"] = load_after
    return rows + matrix_rows


async def _server_side_times(
    dsn: str, windows: dict[str, tuple[str, datetime, datetime]]
) -> dict[str, tuple[float | None, float | None]]:
    """p50/p99 of the gateway's own measurements (performance_metrics, written in
    batches every couple of seconds) for the requests of each case: (endpoint,
    since, until) per case."""
    query = """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms), count(*)
               FROM performance_metrics
               WHERE endpoint = $3 AND timestamp > $1 AND timestamp <= $2"""
    connection = await asyncpg.connect(dsn)
    try:
        result: dict[str, tuple[float | None, float | None]] = {}
        for case, (endpoint, since, until) in windows.items():
            row = None
            for _ in range(50):  # until the gateway's flush has written them
                row = await connection.fetchrow(query, since, until, endpoint)
                if row is not None and row[2] > 0:
                    break
                await asyncio.sleep(0.2)
            if row is None or row[2] == 0:
                result[case] = (None, None)
            else:
                result[case] = (round(row[0], 2), round(row[1], 2))
        return result
    finally:
        await connection.close()


async def _delete_bus_names(amqp_url: str, prefix: str) -> None:
    from ticktide_common.testing.fixtures import delete_bus_names
    from ticktide_common.topology import Topology

    await delete_bus_names(amqp_url, Topology(prefix=prefix))


def print_table(rows: list[dict[str, Any]]) -> None:
    """Issue 2's cases, one line each with the legs side by side (p50/p99 of the
    client's timing), then issue 13's matrix and the throughput, one line per row."""
    old = [row for row in rows if row["case"] in TARGET_P99_MS]
    legs = list(dict.fromkeys(row["leg"] for row in old))
    by = {(row["leg"], row["case"]): row for row in old}
    print(
        "GET /api/crypto/prices (one year of 1h candles) and /api/crypto/aggregates "
        f"(1d over five years of 1h candles); {requests_of(old)} requests per case; "
        f"{os.cpu_count()} CPUs; 1-min load average per leg: "
        + ", ".join(
            f"{leg} {by[(leg, 'cached')]['load_before']:.2f}->"
            f"{by[(leg, 'daily-5y')]['load_after']:.2f}"
            for leg in legs
        )
    )
    header = ["case", "items", "bytes"]
    for leg in legs:
        header += [f"{leg} p50", f"{leg} p99", f"{leg} srv99"]
    header += ["target p99"]
    print("  ".join(f"{h:>16}" for h in header))
    for case in dict.fromkeys(row["case"] for row in old):
        first = by[(legs[0], case)]
        values: list[object] = [case, first["candles"], first["body_bytes"]]
        for leg in legs:
            row = by[(leg, case)]
            mark = "" if row["ok"] else " !"
            values += [f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}{mark}", row["server_p99_ms"]]
        values.append(f"< {first['target_p99_ms']:g}")
        print("  ".join(f"{v!s:>16}" for v in values))
    new = [row for row in rows if row["case"] not in TARGET_P99_MS]
    if new:
        print_matrix(new)


def print_matrix(rows: list[dict[str, Any]]) -> None:
    legs = list(dict.fromkeys(row["leg"] for row in rows))
    print(
        "\nIssue 13: GET /api/crypto/prices?symbol=BENCHUSDT&interval=1h, p50/p99 ms from "
        "request to last byte, bytes on the wire; 1-min load average at the start of each "
        "leg's matrix: "
        + ", ".join(
            f"{leg} {next(r for r in rows if r['leg'] == leg)['load_before']:.2f}" for leg in legs
        )
    )
    columns = ("leg", "path", "range", "state", "shape", "encoding", "coding", "bytes", "n")
    widths = (11, 22, 5, 12, 7, 8, 8, 9, 5)
    print(
        "  ".join(f"{c:<{w}}" for c, w in zip(columns, widths, strict=True))
        + f"  {'p50':>7}  {'p99':>7}  {'srv99':>6}  target"
    )
    for row in rows:
        if "requests_per_s" in row:
            head = (row["leg"], row["path"], row["range"], row["state"], row["shape"])
            print(
                "  ".join(f"{c!s:<{w}}" for c, w in zip(head, widths, strict=False))
                + f"  {row['requests_per_s']:,.0f} req/s ({row['requests']:,} in 10 s, "
                f"{row['non_2xx']} non-2xx), p50 {row['p50_ms']:.2f}, p99 {row['p99_ms']:.2f}"
                f"  target >= {row['target_requests_per_s']:,.0f} req/s"
                + ("" if row["ok"] else " !")
            )
            continue
        cells = (
            row["leg"],
            row["path"],
            row["range"],
            row["state"],
            row["shape"],
            "gzip,br" if row["encoding"] != "identity" else "none",
            row["coding"],
            row["body_bytes"],
            row["requests"],
        )
        targets = []
        if row["target_p99_ms"] is not None:
            targets.append(f"p99 < {row['target_p99_ms']:g}")
        if row["target_bytes"] is not None:
            targets.append(f"< {row['target_bytes'] // 1000} KB")
        server = row.get("server_p99_ms")
        print(
            "  ".join(f"{c!s:<{w}}" for c, w in zip(cells, widths, strict=True))
            + f"  {row['p50_ms']:>7.2f}  {row['p99_ms']:>7.2f}  "
            f"{'' if server is None else f'{server:.2f}':>6}  "
            + ", ".join(targets)
            + ("" if row["ok"] is not False else " !")
        )


def requests_of(rows: list[dict[str, Any]]) -> int:
    return int(rows[0]["requests"]) if rows else 0


def main(
    requests: int = 200, leg: str = "both", matrix: bool = True, only: str | None = None
) -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(requests, leg, matrix, only))
    if rows:
        print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="timed requests per cached case (uncached: a tenth, five years a fortieth)",
    )
    parser.add_argument(
        "--leg",
        choices=("both", "plain", "timescaledb"),
        default=os.environ.get("TICKTIDE_BENCH_LEG", "both"),
        help="which cluster(s) to run on (env TICKTIDE_BENCH_LEG)",
    )
    parser.add_argument(
        "--matrix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="issue 13's matrix (nginx, five years, shapes, encodings) and the wrk row",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the rows to this file (JSON)"
    )
    parser.add_argument(
        "--only",
        default=None,
        help="run only the matrix cases whose label path|span|state|shape|encoding matches "
        "this regular expression (and wrk if it matches 'wrk'), e.g. 'nginx\\|5y\\|cached'",
    )
    arguments = parser.parse_args()
    found = main(arguments.requests, arguments.leg, arguments.matrix, arguments.only)
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(found, indent=1, default=str))
