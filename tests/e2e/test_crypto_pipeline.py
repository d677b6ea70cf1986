"""Issue 2's acceptance path: Binance (fake, exact format) → ingest-crypto →
RabbitMQ → writer → PostgreSQL → gateway, through the admin backfill API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers
from ticktide_common.testing.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)  # three months of 1h candles: 2184 per symbol
HOLES = {
    "BTCUSDT": [datetime(2024, 2, 10, h, tzinfo=UTC) for h in (5, 6, 7)],
    "ETHUSDT": [datetime(2024, 3, 5, 12, tzinfo=UTC)],
}


async def _backfill(client: httpx.AsyncClient, symbol: str) -> str:
    response = await client.post(
        "/api/admin/ingest/crypto/backfill",
        json={
            "symbol": symbol,
            "interval": "1h",
            "start": START.isoformat(),
            "end": END.isoformat(),
        },
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]

    async def done() -> bool:
        job = (await client.get(f"/api/admin/ingest/jobs/{job_id}")).json()
        assert job["status"] != "failed", job
        return bool(job["status"] == "done")

    await wait_until(done, timeout=90, what=f"backfill of {symbol} to finish")
    return job_id


async def _quality(client: httpx.AsyncClient, symbol: str) -> dict:
    response = await client.get("/api/crypto/quality", params={"symbol": symbol, "interval": "1h"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_backfill_holes_refill_and_rate_limit(
    crypto_stack: CryptoStack, database_url: str, db_pool: asyncpg.Pool
) -> None:
    binance = crypto_stack.binance
    served_total = {s: binance.add_series(s, "1h", START, END, holes=HOLES[s]) for s in HOLES}
    assert served_total == {"BTCUSDT": 2184 - 3, "ETHUSDT": 2184 - 1}
    binance.rate_limit_next(retry_after=1.0)

    async with httpx.AsyncClient(
        base_url=crypto_stack.api, timeout=30, headers=await admin_headers(db_pool)
    ) as client:
        for symbol in HOLES:  # one after the other, so the 429 is the only thing in flight
            await _backfill(client, symbol)

        # The 429 was honoured: the next request came no sooner than Retry-After.
        log = binance.kline_requests()
        limited = [i for i, r in enumerate(log) if r.status == 429]
        assert len(limited) == 1
        follow_up = log[limited[0] + 1]
        assert follow_up.at - log[limited[0]].at >= 1.0

        # Exactly the served candles are stored, digit for digit.
        connection = await asyncpg.connect(database_url)
        try:
            for symbol in HOLES:
                rows = await connection.fetch(
                    """SELECT p.datetime, p.open_price::text o, p.high_price::text h,
                              p.low_price::text l, p.close_price::text c, p.volume::text v,
                              p.source
                       FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
                       WHERE c.binance_symbol = $1 AND p.interval_type = '1h'
                       ORDER BY p.datetime""",
                    symbol,
                )
                served = binance.served_klines(symbol, "1h")
                assert len(rows) == len(served)
                assert [
                    (int(r["datetime"].timestamp() * 1000), r["o"], r["h"], r["l"], r["c"], r["v"])
                    for r in rows
                ] == [tuple(k[:6]) for k in served]
                assert {r["source"] for r in rows} == {"binance"}
        finally:
            await connection.close()

        # ...and through the API, as numbers that print as the provider's strings.
        for symbol in HOLES:
            response = await client.get(
                "/api/crypto/prices",
                params={
                    "symbol": symbol,
                    "interval": "1h",
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "limit": 5000,
                },
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["symbol"] == symbol and body["source"] == "binance"
            served = binance.served_klines(symbol, "1h")
            assert [[c["t"], c["o"], c["h"], c["l"], c["c"], c["v"]] for c in body["candles"]] == [
                [_iso(datetime.fromtimestamp(k[0] / 1000, UTC)), *map(float, k[1:6])]
                for k in served
            ]

        # The holes are reported (the source still lacks them, retries find nothing).
        btc, eth = await _quality(client, "BTCUSDT"), await _quality(client, "ETHUSDT")
        assert (btc["expected"], btc["present"], btc["missing"]) == (2184, 2181, 3)
        assert btc["gaps"] == [
            {
                "start": _iso(HOLES["BTCUSDT"][0]),
                "end": _iso(HOLES["BTCUSDT"][-1] + timedelta(hours=1)),
                "candles": 3,
            }
        ]
        assert (eth["missing"], len(eth["gaps"]), eth["refilled"]) == (1, 1, 0)

        # The source gets the candles after all: the open gaps are refilled on their own.
        for symbol in HOLES:
            binance.heal(symbol, "1h")

        async def refilled() -> bool:
            quality = [await _quality(client, s) for s in HOLES]
            return [(q["missing"], q["refilled"], q["gaps"]) for q in quality] == [
                (0, 3, []),
                (0, 1, []),
            ]

        await wait_until(refilled, timeout=60, what="the healed holes to be refilled")

        # The gateway drops its cached body when the writer's stored event reaches it,
        # an instant after the rows are visible: wait for the refilled body.
        candles: list[dict] = []

        async def full_series() -> bool:
            nonlocal candles
            response = await client.get(
                "/api/crypto/prices",
                params={
                    "symbol": "BTCUSDT",
                    "interval": "1h",
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "limit": 5000,
                },
            )
            candles = response.json()["candles"]
            return len(candles) == 2184

        await wait_until(full_series, timeout=15, what="the cache to serve the refilled series")
        healed = {c["t"]: c for c in candles}[_iso(HOLES["BTCUSDT"][1])]
        kline = binance.served_klines(
            "BTCUSDT", "1h", HOLES["BTCUSDT"][1], HOLES["BTCUSDT"][1] + timedelta(hours=1)
        )[0]
        assert healed["c"] == float(kline[4])
