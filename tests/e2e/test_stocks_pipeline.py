"""Issue 5's stock path end to end, as real processes: NASDAQ and Nasdaq Nordic
(one fake server, the providers' exact formats) → ingest-stocks → bus → writer →
PostgreSQL → gateway. What was served is what is stored (digit for digit once
`$` and thousands separators are gone), Helsinki rows have no invented open, a
5xx is retried, a provider error block fails the job with the provider's words
and stores nothing, `/multi` mixes both exchanges, `/stats` equals an
independent computation, and `ticktide backfill stocks` returns when stored."""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, cli_env
from ticktide_common.testing.market import forget_stock_rows
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

START, END = date(2024, 6, 3), date(2024, 9, 3)  # Juneteenth, July 4th, Midsummer Eve inside


def plain(text: str) -> str:
    """A provider string as a plain decimal: no `$`, no thousands separators."""
    return text.replace("$", "").replace(",", "")


async def backfill(client: httpx.AsyncClient, symbol: str, start: date, end: date) -> str:
    response = await client.post(
        "/api/admin/ingest/stocks/backfill",
        json={"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 202, response.text
    return f"/api/admin/ingest/jobs/{response.json()['job_id']}"


async def finished(client: httpx.AsyncClient, job_url: str) -> dict[str, Any]:
    async def over() -> bool:
        return (await client.get(job_url)).json()["status"] in ("done", "failed")

    await wait_until(over, timeout=90, what=f"job {job_url}")
    job: dict[str, Any] = (await client.get(job_url)).json()
    return job


async def stored_rows(pool: asyncpg.Pool, symbol: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT p.datetime::date AS day, p.open_price::text AS o, p.high_price::text AS h,
                      p.low_price::text AS l, p.close_price::text AS c, p.volume::text AS v,
                      p.average_price::text AS average, p.turnover::text AS turnover, p.source
               FROM stock_prices p JOIN stocks s ON s.id = p.stock_id
               WHERE s.symbol = $1 ORDER BY p.datetime""",
            symbol,
        )
    )


def independent_stats(rows: list[dict[str, str]]) -> dict[str, float]:
    """The contract's statistics from the served rows, in plain Python."""
    closes = [float(plain(r["close"])) for r in rows]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    peak, drawdown = closes[0], 0.0
    for close in closes:
        peak = max(peak, close)
        drawdown = max(drawdown, 1 - close / peak)
    return {
        "first_close": closes[0],
        "last_close": closes[-1],
        "period_return": closes[-1] / closes[0] - 1,
        "annualized_volatility": statistics.stdev(returns) * math.sqrt(252),
        "high_52w": max(float(plain(r["high"])) for r in rows),
        "low_52w": min(float(plain(r["low"])) for r in rows),
        "average_volume": statistics.fmean(float(plain(r["volume"])) for r in rows),
        "max_drawdown": drawdown,
    }


async def test_stock_backfills_store_what_was_served_and_the_api_reports_it(
    stocks_stack: CryptoStack, fake_nasdaq: FakeNasdaq, db_pool: asyncpg.Pool
) -> None:
    await forget_stock_rows(db_pool, "AAPL", "NOKIA", "MSFT")
    fake_nasdaq.add_us_series("AAPL", START, END)
    fake_nasdaq.add_nordic_series("NOKIA", START, END)
    async with httpx.AsyncClient(
        base_url=stocks_stack.api, headers=await admin_headers(db_pool), timeout=30
    ) as client:
        fake_nasdaq.fail_next(503, times=1)  # the first data request fails; it is retried
        aapl = await finished(client, await backfill(client, "AAPL", START, END))
        nokia = await finished(client, await backfill(client, "NOKIA", START, END))
        assert aapl["status"] == "done", aapl
        assert nokia["status"] == "done", nokia
        assert any(r.status == 503 for r in fake_nasdaq.requests())

        # NASDAQ: every served row stored exactly, `$` and separators gone.
        served_us = fake_nasdaq.served_us_rows("AAPL")
        assert len(served_us) == 63  # 66 weekdays less Juneteenth, July 4th and Labor Day
        us = await stored_rows(db_pool, "AAPL")
        assert [
            (r["day"].strftime("%m/%d/%Y"), r["o"], r["h"], r["l"], r["c"], r["v"]) for r in us
        ] == [
            (
                s["date"],
                plain(s["open"]),
                plain(s["high"]),
                plain(s["low"]),
                plain(s["close"]),
                plain(s["volume"]),
            )
            for s in served_us
        ]
        assert {r["source"] for r in us} == {"nasdaq"}
        assert any("," in s["volume"] for s in served_us)

        # Helsinki: no open is published, none is stored; average and turnover kept.
        served_fi = fake_nasdaq.served_nordic_rows("NOKIA")
        fi = await stored_rows(db_pool, "NOKIA")
        assert date(2024, 6, 21) not in {r["day"] for r in fi}  # Midsummer Eve: closed
        assert [
            (
                r["day"].isoformat(),
                r["o"],
                r["h"],
                r["l"],
                r["c"],
                r["v"],
                r["average"],
                r["turnover"],
            )
            for r in fi
        ] == [
            (
                s["dateTime"],
                None,
                s["high"],
                s["low"],
                s["close"],
                plain(s["totalVolume"]),
                s["average"],
                plain(s["turnover"]),
            )
            for s in served_fi
        ]
        assert {r["source"] for r in fi} == {"nasdaq-nordic"}

        # An unknown symbol at the provider: its error block fails the job, nothing stored.
        msft = await finished(client, await backfill(client, "MSFT", START, END))
        assert msft["status"] == "failed" and "Symbol not exists" in msft["error"], msft
        assert await stored_rows(db_pool, "MSFT") == []

        # Both exchanges side by side.
        response = await client.get(
            "/api/stocks/multi",
            params={"symbols": "AAPL,NOKIA", "start": START.isoformat(), "end": END.isoformat()},
        )
        assert response.status_code == 200, response.text
        by_symbol = {s["symbol"]: s for s in response.json()["stocks"]}
        assert by_symbol["AAPL"]["exchange"] == "NASDAQ"
        assert by_symbol["NOKIA"]["exchange"] == "OMXH"
        assert by_symbol["AAPL"]["source"] == "nasdaq"
        assert [p["o"] for p in by_symbol["AAPL"]["prices"]] == [
            float(plain(s["open"])) for s in served_us
        ]
        assert [p["c"] for p in by_symbol["NOKIA"]["prices"]] == [
            float(s["close"]) for s in served_fi
        ]
        assert all(p["o"] is None for p in by_symbol["NOKIA"]["prices"])

        # Statistics equal an independent computation from the served rows.
        response = await client.get(
            "/api/stocks/stats",
            params={"symbol": "AAPL", "start": START.isoformat(), "end": END.isoformat()},
        )
        assert response.status_code == 200, response.text
        stats = response.json()
        for name, expected in independent_stats(served_us).items():
            assert math.isclose(stats[name], expected, rel_tol=1e-9, abs_tol=1e-12), (
                name,
                stats[name],
                expected,
            )

        # Bad input: clear 4xx, never a 5xx.
        for path, params in (
            ("/api/stocks/prices", {"symbol": "NOPE"}),
            ("/api/stocks/prices", {"symbol": "AAPL'; DROP TABLE stocks;--"}),
            ("/api/stocks/prices", {"symbol": "AAPL", "start": "2024-13-01"}),
            ("/api/stocks/prices", {"symbol": "AAPL", "start": "2024-09-01", "end": "2024-06-01"}),
            ("/api/stocks/multi", {"symbols": "AAPL,NOPE"}),
            ("/api/stocks/latest", {"exchange": "NYSE"}),
        ):
            bad = await client.get(path, params=params)
            assert 400 <= bad.status_code < 500, (path, params, bad.status_code, bad.text)
            assert bad.json()["detail"], bad.text
        stocks_count = await db_pool.fetchval("SELECT count(*) FROM stocks")
        assert stocks_count >= 10


async def test_cli_backfill_stocks_returns_when_stored(
    stocks_stack: CryptoStack, fake_nasdaq: FakeNasdaq, db_pool: asyncpg.Pool
) -> None:
    await forget_stock_rows(db_pool, "NDA-FI")
    fake_nasdaq.add_nordic_series("NDA FI", START, START + timedelta(days=28))
    env = await cli_env(stocks_stack, db_pool)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        "backfill",
        "stocks",
        "NDA-FI",
        "--start",
        START.isoformat(),
        "--end",
        (START + timedelta(days=28)).isoformat(),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode()
    assert process.returncode == 0, text
    served = fake_nasdaq.served_nordic_rows("NDA FI")
    assert f"stored {len(served)} bars of NDA-FI" in text, text
    rows = await stored_rows(db_pool, "NDA-FI")
    assert [r["c"] for r in rows] == [s["close"] for s in served]

    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        "backfill",
        "stocks",
        "NOSUCH",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "unknown stock symbol 'NOSUCH'" in output.decode()
