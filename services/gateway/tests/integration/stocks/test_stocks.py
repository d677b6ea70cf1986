"""`/api/stocks/*` against the real gateway, PostgreSQL and Redis: shapes, exact
numbers, `o` null for Helsinki, ranges, sources, and statistics checked against
an independent computation."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import httpx
import numpy as np

from ticktide_common.testing.market import forget_stock_rows
from ticktide_gateway.stocks.schemas import DEFAULT_STOCK_DAYS

D0 = date(2024, 1, 1)


def weekdays(n: int, start: date = D0) -> list[date]:
    days, day = [], start
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def flat_bars(days: list[date], close: str = "10.00", with_open: bool = True):  # type: ignore[no-untyped-def]
    return [(d, close if with_open else None, close, close, close, "100") for d in days]


async def test_prices_exact_numbers_order_and_half_open_range(
    api: httpx.AsyncClient, market
) -> None:  # type: ignore[no-untyped-def]
    symbol = "PRX" + "1"
    await market.stock(symbol)
    await market.bars(
        symbol,
        [
            (date(2024, 1, 4), "187.15", "188.44", "183.885", "185.59", "81964874"),
            (date(2024, 1, 2), "187.15", "188.44", "183.8850", "185.64", "82488674"),
            (date(2024, 1, 3), "184.22", "185.88", "183.43", "184.25", "58414460"),
            (date(2024, 1, 5), "0.0001", "1234567.891", "0.00001", "181.18", "0"),
        ],
    )
    response = await api.get(
        "/api/stocks/prices", params={"symbol": "prx1", "start": "2024-01-02", "end": "2024-01-05"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["exchange"], body["source"]) == ("PRX1", "NASDAQ", "nasdaq")
    assert [p["date"] for p in body["prices"]] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert body["prices"][0] == {
        "date": "2024-01-02",
        "o": 187.15,
        "h": 188.44,
        "l": 183.885,
        "c": 185.64,
        "v": 82488674,
    }
    # ISO datetimes are accepted too (UTC); the end stays exclusive.
    wide = await api.get(
        "/api/stocks/prices",
        params={"symbol": "PRX1", "start": "2024-01-01T00:00:00Z", "end": "2024-01-06T00:00:00Z"},
    )
    last = wide.json()["prices"][-1]
    assert [repr(last[k]) for k in ("o", "h", "l", "c")] == [
        "0.0001",
        "1234567.891",
        "1e-05",
        "181.18",
    ]
    assert Decimal(repr(last["h"])) == Decimal("1234567.891")
    # Without start/end: the year up to the last stored day.
    default = (await api.get("/api/stocks/prices", params={"symbol": "PRX1"})).json()
    assert len(default["prices"]) == 4


async def test_default_window_is_the_year_before_the_last_stored_day(
    api: httpx.AsyncClient, market
) -> None:  # type: ignore[no-untyped-def]
    symbol = "YEAR1"
    await market.stock(symbol)
    last = date(2024, 6, 28)
    days = [
        last - timedelta(days=k) for k in (0, 1, DEFAULT_STOCK_DAYS - 1, DEFAULT_STOCK_DAYS, 400)
    ]
    await market.bars(symbol, flat_bars(days))
    body = (await api.get("/api/stocks/prices", params={"symbol": symbol})).json()
    assert [p["date"] for p in body["prices"]] == sorted(d.isoformat() for d in days[:3])
    only_start = (
        await api.get("/api/stocks/prices", params={"symbol": symbol, "start": "2023-01-01"})
    ).json()
    assert len(only_start["prices"]) == 5
    after_all = (
        await api.get("/api/stocks/prices", params={"symbol": symbol, "start": "2025-01-01"})
    ).json()
    assert after_all == {"symbol": symbol, "exchange": "NASDAQ", "source": None, "prices": []}


async def test_multi_mixes_nasdaq_with_opens_and_helsinki_without(
    api: httpx.AsyncClient, market
) -> None:  # type: ignore[no-untyped-def]
    days = weekdays(5, date(2024, 2, 5))
    await forget_stock_rows(market.pool, "AAPL", "NOKIA")
    await market.bars("AAPL", flat_bars(days, "190.50"))
    await market.bars("NOKIA", flat_bars(days, "3.215", with_open=False), source="nasdaq-nordic")
    response = await api.get(
        "/api/stocks/multi",
        params={"symbols": "aapl, NOKIA,AAPL", "start": "2024-02-05", "end": "2024-02-10"},
    )
    assert response.status_code == 200, response.text
    stocks = response.json()["stocks"]
    assert [(s["symbol"], s["exchange"], s["source"]) for s in stocks] == [
        ("AAPL", "NASDAQ", "nasdaq"),
        ("NOKIA", "OMXH", "nasdaq-nordic"),
    ]
    assert [p["date"] for p in stocks[0]["prices"]] == [d.isoformat() for d in days]
    assert all(p["o"] == 190.5 for p in stocks[0]["prices"])
    assert all(p["o"] is None and p["c"] == 3.215 for p in stocks[1]["prices"])

    unknown = await api.get("/api/stocks/multi", params={"symbols": "AAPL,NOPE1,NOPE2"})
    assert unknown.status_code == 404
    assert "'NOPE1', 'NOPE2'" in unknown.json()["detail"]


async def test_data_and_simulated_labelling(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    symbol = "DATA1"
    await market.stock(symbol, exchange="OMXH", name="Data Oyj")
    empty = (await api.get("/api/stocks/data", params={"symbol": symbol})).json()
    assert empty == {
        "symbol": symbol,
        "name": "Data Oyj",
        "exchange": "OMXH",
        "currency": "EUR",
        "source": None,
        "first_date": None,
        "last_date": None,
        "days": 0,
        "latest": None,
    }
    days = weekdays(3, date(2024, 3, 4))
    await market.bars(symbol, flat_bars(days[:2], "5.5", with_open=False), source="nasdaq-nordic")
    await market.bars(symbol, flat_bars(days[2:], "5.75", with_open=False), source="simulated")
    body = (await api.get("/api/stocks/data", params={"symbol": symbol})).json()
    assert body["source"] == "nasdaq-nordic+simulated"
    assert (body["first_date"], body["last_date"], body["days"]) == ("2024-03-04", "2024-03-06", 3)
    assert body["latest"] == {
        "date": "2024-03-06",
        "o": None,
        "h": 5.75,
        "l": 5.75,
        "c": 5.75,
        "v": 100,
    }
    prices = (
        await api.get("/api/stocks/prices", params={"symbol": symbol, "start": "2024-03-06"})
    ).json()
    assert prices["source"] == "simulated"


async def test_latest_with_change_against_previous_session(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    one, two, idle, off = "LATA1", "LATB1", "LATC1", "LATD1"
    await market.stock(one, exchange="OMXH")
    await market.stock(two)
    await market.stock(idle)
    await market.stock(off, active=False)
    await market.bars(
        one,
        [
            (date(2024, 4, 2), None, "11", "9", "10.00", "5"),
            (date(2024, 4, 3), None, "13", "10", "12.50", "7"),
        ],
        source="nasdaq-nordic",
    )
    await market.bars(two, [(date(2024, 4, 3), "20", "21", "19", "20.5", "9")])
    await market.bars(off, [(date(2024, 4, 3), "1", "1", "1", "1", "1")])

    body = (await api.get("/api/stocks/latest")).json()
    assert body["exchange"] is None
    by_symbol = {s["symbol"]: s for s in body["stocks"]}
    assert off not in by_symbol
    assert by_symbol[one] == {
        "symbol": one,
        "name": f"{one} Corp",
        "exchange": "OMXH",
        "currency": "EUR",
        "date": "2024-04-03",
        "o": None,
        "h": 13.0,
        "l": 10.0,
        "c": 12.5,
        "v": 7.0,
        "change": 2.5,
        "change_pct": 25.0,
        "source": "nasdaq-nordic",
    }
    assert (by_symbol[two]["change"], by_symbol[two]["change_pct"], by_symbol[two]["o"]) == (
        None,
        None,
        20.0,
    )
    assert by_symbol[idle]["date"] is None and by_symbol[idle]["c"] is None
    assert "nasdaq" in body["source"].split("+")

    helsinki = (await api.get("/api/stocks/latest", params={"exchange": "omxh"})).json()
    assert helsinki["exchange"] == "OMXH"
    assert {s["exchange"] for s in helsinki["stocks"]} == {"OMXH"}
    assert one in {s["symbol"] for s in helsinki["stocks"]}


def _independent_stats(
    closes: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
    volumes: np.ndarray,
    days: list[date],
    lo: int,
    hi: int,
) -> dict[str, float]:
    c = closes[lo:hi]
    log_returns = np.log(c[1:] / c[:-1])
    last_day = days[hi - 1]
    year = [i for i, d in enumerate(days) if last_day - timedelta(days=365) < d <= last_day]
    peaks = np.maximum.accumulate(c)
    return {
        "first_close": float(c[0]),
        "last_close": float(c[-1]),
        "period_return": float(c[-1] / c[0] - 1),
        "annualized_volatility": float(np.std(log_returns, ddof=1) * math.sqrt(252)),
        "high_52w": float(max(highs[i] for i in year)),
        "low_52w": float(min(lows[i] for i in year)),
        "average_volume": float(np.mean(volumes[lo:hi])),
        "max_drawdown": float(np.max(1 - c / peaks)),
    }


async def test_stats_match_an_independent_computation(api: httpx.AsyncClient, market) -> None:  # type: ignore[no-untyped-def]
    symbol = "STAT1"
    await market.stock(symbol)
    rng = random.Random(7)
    days = weekdays(300, date(2023, 1, 2))
    price, bars = 100.0, []
    for day in days:
        price *= math.exp(rng.gauss(0.0003, 0.02))
        close = f"{price:.4f}"
        high = f"{price * (1 + rng.random() * 0.02):.4f}"
        low = f"{price * (1 - rng.random() * 0.02):.4f}"
        bars.append((day, close, high, low, close, str(rng.randint(1_000, 9_000_000))))
    await market.bars(symbol, bars)
    closes = np.array([float(b[4]) for b in bars])
    highs = np.array([float(b[2]) for b in bars])
    lows = np.array([float(b[3]) for b in bars])
    volumes = np.array([float(b[5]) for b in bars])

    whole = (await api.get("/api/stocks/stats", params={"symbol": symbol})).json()
    expected = _independent_stats(closes, highs, lows, volumes, days, 0, len(days))
    assert (whole["start"], whole["end"], whole["days"]) == (
        days[0].isoformat(),
        (days[-1] + timedelta(days=1)).isoformat(),
        300,
    )
    assert (whole["symbol"], whole["exchange"], whole["source"]) == (symbol, "NASDAQ", "nasdaq")
    for field, value in expected.items():
        assert math.isclose(whole[field], value, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(value))), (
            field
        )

    # A sub-range: the 52 weeks look back from its last bar, before `start` too.
    lo, hi = 100, 250
    part = (
        await api.get(
            "/api/stocks/stats",
            params={"symbol": symbol, "start": days[lo].isoformat(), "end": days[hi].isoformat()},
        )
    ).json()
    expected = _independent_stats(closes, highs, lows, volumes, days, lo, hi)
    assert part["days"] == hi - lo
    assert (part["start"], part["end"]) == (days[lo].isoformat(), days[hi].isoformat())
    for field, value in expected.items():
        assert math.isclose(part[field], value, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(value))), (
            field
        )

    one_bar = (
        await api.get(
            "/api/stocks/stats",
            params={"symbol": symbol, "start": days[5].isoformat(), "end": days[6].isoformat()},
        )
    ).json()
    assert one_bar["days"] == 1
    assert (one_bar["period_return"], one_bar["annualized_volatility"]) == (None, None)
    assert one_bar["first_close"] == one_bar["last_close"] == closes[5]
    none = (
        await api.get("/api/stocks/stats", params={"symbol": symbol, "start": "2030-01-01"})
    ).json()
    assert none["days"] == 0 and none["first_close"] is None and none["source"] is None


async def test_quality_lists_open_and_refilled_gaps(
    api: httpx.AsyncClient, market, db_pool
) -> None:  # type: ignore[no-untyped-def]
    symbol = "GAPS1"
    stock_id = await market.stock(symbol)
    await db_pool.execute(
        """INSERT INTO stock_gaps (stock_id, gap_start, gap_end, sessions, status, refilled_at)
           VALUES ($1, '2024-01-08', '2024-01-09', 2, 'open', NULL),
                  ($1, '2024-01-02', '2024-01-02', 1, 'refilled', now())""",
        stock_id,
    )
    body = (await api.get("/api/stocks/quality", params={"symbol": symbol})).json()
    assert (body["symbol"], body["open"], body["refilled"]) == (symbol, 2, 1)
    assert [(g["start"], g["end"], g["sessions"], g["status"]) for g in body["gaps"]] == [
        ("2024-01-02", "2024-01-02", 1, "refilled"),
        ("2024-01-08", "2024-01-09", 2, "open"),
    ]
