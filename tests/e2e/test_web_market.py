"""The market pages (/crypto, /stocks, /weather) through the gateway, with data
loaded through the fake providers (Binance, Nasdaq and Nasdaq Nordic,
Open-Meteo): the server-rendered counts and statistics equal what the API
answers for the same range, admins see the data quality and can queue a
backfill from the page, users never do, and bad input is a message on the page
(never a 5xx). One test drives the charts in Chromium (bars drawn, earlier
history loaded by scrolling left, no console errors)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait, stack_env, start_stack
from ticktide_common.testing.market import forget_stock_rows, forget_weather_rows
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_ingest_weather.hours import current_batch_id
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo
from ticktide_web.pages.market import months_before

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery"
COOKIE = "__Host-ticktide_session"
HOUR = timedelta(hours=1)
# Two months of BTCUSDT 1h with a three-hour hole (a gap for the quality report).
CRYPTO_START = datetime(2022, 1, 1, tzinfo=UTC)
CRYPTO_END = datetime(2022, 3, 1, tzinfo=UTC)
HOLE = [datetime(2022, 2, 10, h, tzinfo=UTC) for h in (5, 6, 7)]
STOCK_START, STOCK_END = date(2024, 6, 3), date(2024, 9, 3)
WEATHER_START = datetime(2024, 1, 1, tzinfo=UTC)
WEATHER_END = datetime(2024, 1, 15, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class MarketStack:
    stack: CryptoStack
    binance: FakeBinance
    nasdaq: FakeNasdaq
    meteo: FakeOpenMeteo
    admin: dict[str, str]  # bearer headers of an admin, for the API

    @property
    def api(self) -> str:
        return self.stack.api


async def _stock_backfill(client: httpx.AsyncClient, symbol: str, start: date, end: date) -> None:
    response = await client.post(
        "/api/admin/ingest/stocks/backfill",
        json={"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 202, response.text
    await _job_over(client, response.json()["job_id"])


async def _job_over(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    url = f"/api/admin/ingest/jobs/{job_id}"

    async def over() -> bool:
        return (await client.get(url)).json()["status"] in ("done", "failed")

    await wait_until(over, timeout=90, what=f"job {job_id}")
    job: dict[str, Any] = (await client.get(url)).json()
    assert job["status"] == "done", job
    return job


async def _load(market: MarketStack) -> None:
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin, timeout=30) as api:
        market.binance.add_series("BTCUSDT", "1h", CRYPTO_START, CRYPTO_END, holes=HOLE)
        market.nasdaq.add_us_series("AAPL", STOCK_START, STOCK_END)
        market.nasdaq.add_nordic_series("NOKIA", STOCK_START, STOCK_END)
        await backfill_and_wait(api, "BTCUSDT", CRYPTO_START, CRYPTO_END)
        await _stock_backfill(api, "AAPL", STOCK_START, STOCK_END)
        await _stock_backfill(api, "NOKIA", STOCK_START, STOCK_END)
        # MSFT's provider is down: with the simulated fallback on, its bars are simulated.
        market.nasdaq.fail_next(503, times=1000)
        await _stock_backfill(api, "MSFT", STOCK_START, STOCK_END)
        market.nasdaq.clear_faults()
        response = await api.post(
            "/api/admin/ingest/weather/backfill",
            json={
                "location": "Helsinki",
                "start": WEATHER_START.isoformat(),
                "end": WEATHER_END.isoformat(),
            },
        )
        assert response.status_code == 202, response.text
        await _job_over(api, response.json()["job_id"])

        async def current_stored() -> bool:
            answer = await api.get("/api/weather/current", params={"location": "Helsinki"})
            return answer.status_code == 200

        await wait_until(current_stored, timeout=30, what="current weather of Helsinki")


async def _forget_current_batch_claims(pool: asyncpg.Pool, location: str) -> None:
    """A current reading's batch id is its location, 15-minute slot and source: a stack
    earlier in this run that stored Helsinki's reading of this slot left the claim, and
    the writer would skip the same reading now that its row is gone."""
    now = datetime.now(UTC)
    slot = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    ids = [
        current_batch_id(location, slot + step * timedelta(minutes=15), source)
        for step in (-1, 0, 1)
        for source in ("open-meteo", "openweather", "simulated")
    ]
    await pool.execute("DELETE FROM ingest_batches WHERE batch_id = ANY($1::uuid[])", ids)


@pytest.fixture(scope="module")
async def market(
    service_env: dict[str, str], log_dir: Path, db_pool: asyncpg.Pool
) -> AsyncIterator[MarketStack]:
    with FakeBinance() as binance, FakeNasdaq() as nasdaq, FakeOpenMeteo() as meteo:
        env = stack_env(
            service_env,
            binance.url,
            REGISTRATION_MAX_PER_IP="1000",
            NASDAQ_BASE_URL=nasdaq.url,
            NASDAQ_NORDIC_BASE_URL=nasdaq.url,
            OPEN_METEO_BASE_URL=meteo.url,
            OPEN_METEO_ARCHIVE_URL=meteo.url,
            WEATHER_LOCATIONS="Helsinki:60.1699:24.9384",
            WEATHER_SCHEDULER_ENABLED="1",
            WEATHER_CURRENT_SECONDS="2",
            WEATHER_HISTORY_SECONDS="3600",
            WEATHER_HISTORY_DAYS="1",
            TICKTIDE_SIMULATED_FALLBACK="1",
        )
        await forget_stock_rows(db_pool, "AAPL", "NOKIA", "MSFT")
        await forget_weather_rows(db_pool, "Helsinki")
        await _forget_current_batch_claims(db_pool, "Helsinki")
        stack = await start_stack(binance, env, log_dir, ingesters=("web", "stocks", "weather"))
        try:
            found = MarketStack(stack, binance, nasdaq, meteo, await admin_headers(db_pool))
            await _load(found)
            yield found
        finally:
            await stack.close()


def _client(market: MarketStack) -> httpx.AsyncClient:
    # The session cookie is Secure: httpx keeps it for https URLs only.
    return httpx.AsyncClient(base_url=market.api, timeout=30.0)


async def _signed_in(
    market: MarketStack, username: str, db_pool: asyncpg.Pool | None = None
) -> str:
    """A new user's session cookie (an admin's when `db_pool` is given)."""
    async with _client(market) as client:
        registered = await client.post(
            "/register",
            data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert registered.status_code == 303, registered.text
        if db_pool is not None:
            await db_pool.execute(
                "UPDATE users SET user_level = 'admin' WHERE username = $1", username
            )
        login = await client.post(
            "/login", data={"username": username, "password": PASSWORD, "next": "/"}
        )
        assert login.status_code == 303, login.text
        for header in login.headers.get_list("set-cookie"):
            if header.startswith(f"{COOKIE}="):
                return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError("no session cookie")


@pytest.fixture(scope="module")
async def user_cookie(market: MarketStack) -> str:
    return await _signed_in(market, "marketuser")


@pytest.fixture(scope="module")
async def admin_cookie(market: MarketStack, db_pool: asyncpg.Pool) -> str:
    return await _signed_in(market, "marketadmin", db_pool)


async def _page(market: MarketStack, cookie: str, path: str, **params: str) -> httpx.Response:
    async with _client(market) as client:
        client.cookies.set(COOKIE, cookie)
        return await client.get(path, params=params)


def _text(page: httpx.Response) -> str:
    """The page's text, tags dropped and whitespace folded (what a reader sees)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.text)))


def _alerts(page: httpx.Response) -> list[str]:
    return [
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", m))).strip()
        for m in re.findall(r'role="alert"[^>]*>(.*?)</div>', page.text, re.S)
    ]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found, "no csrf token in the page"
    return found.group(1)


def _money(value: float) -> str:
    return f"{value:,.2f}"


# ---- /crypto ---------------------------------------------------------------


async def test_crypto_page_states_the_count_and_statistics_of_the_range(
    market: MarketStack, user_cookie: str
) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1h", "start": "2022-01-01", "end": "2022-03-01"}
    page = await _page(market, user_cookie, "/crypto", **params)
    assert page.status_code == 200, page.text
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        answer = await api.get(
            "/api/crypto/prices",
            params={**params, "start": _iso(CRYPTO_START), "end": _iso(CRYPTO_END)},
        )
    candles = answer.json()["candles"]
    assert len(candles) == 59 * 24 - len(HOLE) == 1413

    text = _text(page)
    assert "<title>BTCUSDT 1h · Crypto · Ticktide</title>" in page.text
    assert re.search(r'<strong data-bar-count aria-live="polite">1413 candles</strong>', page.text)
    assert "From 2022-01-01 00:00 UTC to 2022-03-01 00:00 UTC (end exclusive)" in text
    # The chart is a named figure that asks for exactly the stated range itself.
    figure = re.search(r'<figure[^>]*aria-label="Price chart"[^>]*>', page.text, re.S)
    assert figure, page.text
    assert 'data-start="2022-01-01T00:00:00+00:00"' in figure.group(0)
    assert 'data-end="2022-03-01T00:00:00+00:00"' in figure.group(0)
    assert len(page.content) < 60_000, "the candles must not be embedded in the page"

    high = max(candles, key=lambda c: c["h"])
    low = min(candles, key=lambda c: c["l"])
    change = (candles[-1]["c"] / candles[0]["o"] - 1) * 100
    volume = sum(c["v"] for c in candles) / len(candles)
    for shown in (
        f"First open {_money(candles[0]['o'])} at 2022-01-01 00:00 UTC",
        f"Last close {_money(candles[-1]['c'])} at 2022-02-28 23:00 UTC",
        f"High {_money(high['h'])}",
        f"Low {_money(low['l'])}",
        f"Change {change:+.2f} %",
        f"Average volume {_money(volume)}",
        "Candles 1413",
        "Source binance",
    ):
        assert shown in text, shown
    assert "simulated" not in text
    # A user sees no data quality and no backfill.
    assert "Data quality" not in text
    assert "Backfill" not in text
    assert "/crypto/backfill" not in page.text
    assert "market_jobs" not in page.text


async def test_a_preset_range_ends_at_the_last_stored_candle(
    market: MarketStack, user_cookie: str
) -> None:
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        symbols = (await api.get("/api/crypto/symbols")).json()["symbols"]
        series = next(s for s in symbols if s["symbol"] == "BTCUSDT")["intervals"]["1h"]
        end = datetime.fromisoformat(series["last"].replace("Z", "+00:00")) + HOUR
        start = months_before(end, 1)
        expected = len(
            (
                await api.get(
                    "/api/crypto/prices",
                    params={
                        "symbol": "BTCUSDT",
                        "interval": "1h",
                        "start": _iso(start),
                        "end": _iso(end),
                    },
                )
            ).json()["candles"]
        )
    page = await _page(market, user_cookie, "/crypto", symbol="btcusdt", interval="1h", range="1m")
    assert page.status_code == 200, page.text
    text = _text(page)
    assert f"1 month: {start:%Y-%m-%d %H:%M} UTC to {end:%Y-%m-%d %H:%M} UTC" in text, text
    assert f"{expected} candles" in text
    assert re.search(r'<option value="1m" selected>1 month</option>', page.text)
    assert re.search(r'<option value="BTCUSDT" selected>', page.text)


async def test_an_admin_sees_the_data_quality_and_backfills_a_gap_from_the_page(
    market: MarketStack, admin_cookie: str, user_cookie: str
) -> None:
    view = {"symbol": "BTCUSDT", "interval": "1h", "start": "2022-02-01", "end": "2022-03-01"}
    page = await _page(market, admin_cookie, "/crypto", **view)
    assert page.status_code == 200, page.text
    text = _text(page)
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        quality = (
            await api.get("/api/crypto/quality", params={"symbol": "BTCUSDT", "interval": "1h"})
        ).json()
    assert quality["missing"] >= len(HOLE)
    assert "Data quality" in text
    for name in ("expected", "present", "missing", "refilled"):
        assert f"{name.capitalize()} {quality[name]}" in text, name
    gaps = re.search(r'<table[^>]*aria-label="Gaps".*?</table>', page.text, re.S)
    assert gaps, page.text
    assert gaps.group(0).count(">Backfill this range</button>") == len(quality["gaps"])
    assert "2022-02-10 05:00 UTC 2022-02-10 08:00 UTC 3" in _text(page)
    assert '<label class="form-label" for="b-start">From</label>' in page.text
    assert '<label class="form-label" for="b-end">Until</label>' in page.text

    # The hole's candles become available upstream; the gap's button backfills them.
    market.binance.heal("BTCUSDT", "1h", HOLE)
    form = {
        "csrf_token": _csrf(page),
        "symbol": "BTCUSDT",
        "interval": "1h",
        "start": _iso(HOLE[0]),
        "end": _iso(HOLE[-1] + HOUR),
        "view_range": "custom",
        "view_start": "2022-02-01",
        "view_end": "2022-03-01",
    }
    async with _client(market) as client:
        client.cookies.set(COOKIE, admin_cookie)
        queued = await client.post("/crypto/backfill", data=form)
        assert queued.status_code == 303, queued.text
        target = queued.headers["location"]
        assert target.startswith("/crypto?symbol=BTCUSDT&interval=1h&range=custom&start=2022-02-01")
        job_id = re.search(r"job=([0-9a-f-]+)", target)
        assert job_id, target
        following = await client.get(target.split("#")[0])
        assert following.status_code == 200
        assert f'data-job-id="{job_id.group(1)}"' in following.text
        assert 'role="status"' in following.text
        async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
            await _job_over(api, job_id.group(1))

        # Gap detection runs on the stored event, after the job is done: wait for this
        # hole to leave the Gaps table (the run's database may hold other tests' gaps of
        # BTCUSDT 1h, so "no gaps at all" is not this test's to assert).
        hole_row = "2022-02-10 05:00 UTC 2022-02-10 08:00 UTC 3"

        async def hole_closed() -> bool:
            return hole_row not in _text(await client.get(target.split("#")[0]))

        await wait_until(hole_closed, timeout=60, what="the refilled gap to be closed")
        done = await client.get(target.split("#")[0])
        assert 'data-job-status="done"' in done.text
        assert "672 candles" in _text(done)  # February complete now
        assert "3 of 3 stored" in _text(done)

        # A form error keeps what was typed and says so beside the field.
        bad = await client.post("/crypto/backfill", data={**form, "start": "next tuesday"})
        assert bad.status_code == 422
        assert 'value="next tuesday"' in bad.text
        assert 'id="b-start-error"' in bad.text
        assert any("is not a date" in a for a in _alerts(bad))
        # The API's refusal (an empty range) is shown, the values kept.
        backwards = await client.post(
            "/crypto/backfill", data={**form, "start": "2022-03-01", "end": "2022-02-01"}
        )
        assert backwards.status_code == 422, backwards.text
        alerts = _alerts(backwards)
        assert any("not queued" in a and "must be before end" in a for a in alerts), alerts
        assert 'value="2022-03-01"' in backwards.text

        # A user cannot queue one: the API refuses, the page says Forbidden.
        client.cookies.set(COOKIE, user_cookie)
        user_page = await client.get("/crypto", params=view)
        refused = await client.post(
            "/crypto/backfill", data={**form, "csrf_token": _csrf(user_page)}
        )
        assert refused.status_code == 403
        assert "<h1>Forbidden</h1>" in refused.text


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"symbol": "DOGEUSDT"}, 404, "Unknown symbol 'DOGEUSDT'"),
        ({"symbol": "<script>x</script>"}, 404, "Unknown symbol '<SCRIPT>X</SCRIPT>'"),
        ({"symbol": "BTCUSDT", "interval": "5m"}, 422, "Unknown interval '5m'"),
        ({"symbol": "BTCUSDT", "range": "decade"}, 422, "is not one of the choices"),
        ({"symbol": "BTCUSDT", "start": "yesterday"}, 422, "'yesterday' is not a date"),
        (
            {"symbol": "BTCUSDT", "start": "2022-03-01", "end": "2022-01-01"},
            422,
            "Start must be before End",
        ),
        (
            {"symbol": "BTCUSDT", "start": "2000-01-01", "end": "2022-01-01"},
            422,
            "more than the 120000 one view draws",
        ),
        (
            {"symbol": "BTCUSDT", "start": "2021-01-01", "end": "2021-02-01"},
            200,
            "No candles stored for BTCUSDT 1h in this range yet",
        ),
    ],
)
async def test_bad_input_and_empty_series_are_messages_on_the_page(
    market: MarketStack,
    user_cookie: str,
    params: dict[str, str],
    status: int,
    message: str,
) -> None:
    page = await _page(market, user_cookie, "/crypto", **params)
    assert page.status_code == status, page.text
    assert any(message in alert for alert in _alerts(page)), _alerts(page)
    assert "<script>x" not in page.text
    assert 'aria-label="Price chart"' not in page.text  # no blank chart
    # The form is still there, keeping what was asked.
    assert '<label class="form-label" for="f-symbol">Symbol</label>' in page.text
    if "start" in params:
        assert f'value="{params["start"]}"' in page.text


async def test_an_empty_series_offers_an_admin_the_backfill_form(
    market: MarketStack, admin_cookie: str
) -> None:
    page = await _page(market, admin_cookie, "/crypto", symbol="XRPUSDT", interval="4h", range="1m")
    assert page.status_code == 200
    assert any("No candles stored for XRPUSDT 4h" in a for a in _alerts(page))
    assert "Use the backfill form" in _text(page)
    assert 'action="/crypto/backfill"' in page.text


# ---- /stocks ---------------------------------------------------------------


def _price(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:,.4f}"


async def _stock_stats(market: MarketStack, symbol: str, start: str, end: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        answer = await api.get(
            "/api/stocks/stats", params={"symbol": symbol, "start": start, "end": end}
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_stocks_page_shows_the_bars_statistics_and_latest_prices(
    market: MarketStack, user_cookie: str
) -> None:
    page = await _page(
        market, user_cookie, "/stocks", symbol="aapl", start="2024-06-03", end="2024-09-03"
    )
    assert page.status_code == 200, page.text
    stats = await _stock_stats(market, "AAPL", "2024-06-03", "2024-09-03")
    assert stats["days"] == 63
    text = _text(page)
    assert '<strong data-bar-count aria-live="polite">63 bars</strong>' in page.text
    assert "From 2024-06-03 to 2024-09-03 (end exclusive)" in text
    for shown in (
        f"First close {_price(stats['first_close'])}",
        f"Last close {_price(stats['last_close'])}",
        f"Return {stats['period_return'] * 100:+.2f} %",
        f"Volatility (annualized) {stats['annualized_volatility'] * 100:,.2f} %",
        f"Max drawdown {stats['max_drawdown'] * 100:,.2f} %",
        f"52-week high {_price(stats['high_52w'])}",
        f"52-week low {_price(stats['low_52w'])}",
        f"Average volume {stats['average_volume']:,.0f}",
    ):
        assert shown in text, shown
    figure = re.search(r'<figure[^>]*aria-label="Price chart"[^>]*>', page.text, re.S)
    assert figure and 'data-kind="stocks"' in figure.group(0)
    assert 'data-series="line"' not in figure.group(0)  # NASDAQ publishes opens

    # The latest session of every NASDAQ stock; MSFT's bars are simulated and say so.
    table = re.search(r'<table[^>]*aria-label="Latest prices".*?</table>', page.text, re.S)
    assert table, page.text
    rows = {
        re.search(r">([A-Z0-9.-]+)</a>", row).group(1): row  # type: ignore[union-attr]
        for row in re.findall(r"<tr[^>]*>\s*<td>.*?</tr>", table.group(0), re.S)
    }
    assert {"AAPL", "MSFT"} <= set(rows) and "NOKIA" not in rows
    assert "tt-simulated" in rows["MSFT"] and "tt-simulated" not in rows["AAPL"]
    assert "2024-08-30" in rows["AAPL"]
    assert "Data quality" not in text and "/stocks/backfill" not in page.text


async def test_helsinki_is_a_line_of_closes_and_simulated_bars_carry_the_badge(
    market: MarketStack, user_cookie: str
) -> None:
    nokia = await _page(market, user_cookie, "/stocks", symbol="NOKIA", range="all")
    assert nokia.status_code == 200, nokia.text
    stats = await _stock_stats(market, "NOKIA", "2024-06-03", "2024-09-03")
    assert f"{stats['days']} bars" in _text(nokia)
    assert 'data-series="line"' in nokia.text
    assert "publishes no opening price" in _text(nokia)
    assert "Latest prices · Nasdaq Helsinki" in _text(nokia)

    msft = await _page(market, user_cookie, "/stocks", symbol="MSFT", range="all")
    assert msft.status_code == 200
    heading = re.search(r'<h2 id="series-heading".*?</h2>', msft.text, re.S)
    assert heading and "tt-simulated" in heading.group(0)


async def test_stocks_admin_sees_the_gaps_and_backfills_from_the_page(
    market: MarketStack, admin_cookie: str, user_cookie: str
) -> None:
    page = await _page(market, admin_cookie, "/stocks", symbol="AAPL", range="all")
    assert page.status_code == 200
    assert "Data quality" in _text(page)
    assert re.search(r'<table[^>]*aria-label="Gaps"', page.text)
    market.nasdaq.add_us_series("AAPL", date(2024, 9, 3), date(2024, 9, 10))
    form = {
        "csrf_token": _csrf(page),
        "symbol": "AAPL",
        "start": "2024-09-03",
        "end": "2024-09-10",
        "view_range": "all",
    }
    async with _client(market) as client:
        client.cookies.set(COOKIE, admin_cookie)
        queued = await client.post("/stocks/backfill", data=form)
        assert queued.status_code == 303, queued.text
        target = queued.headers["location"].split("#")[0]
        job_id = re.search(r"job=([0-9a-f-]+)", target)
        assert job_id, target
        async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
            await _job_over(api, job_id.group(1))
        done = await client.get(target)
        assert 'data-job-status="done"' in done.text
        assert "68 bars" in _text(done)  # five more sessions: 3, 4, 5, 6 and 9 September

        bad = await client.post("/stocks/backfill", data={**form, "end": "2024-09-01"})
        assert bad.status_code == 422
        assert any("must be before end" in a for a in _alerts(bad)), _alerts(bad)
        assert 'value="2024-09-01"' in bad.text

    unknown = await _page(market, user_cookie, "/stocks", symbol="ZZZZ")
    assert unknown.status_code == 404
    assert any("Unknown stock symbol 'ZZZZ'" in a for a in _alerts(unknown))
    empty = await _page(market, user_cookie, "/stocks", symbol="NVDA")
    assert empty.status_code == 200
    assert any("No bars stored for NVDA" in a for a in _alerts(empty))


# ---- /weather --------------------------------------------------------------


async def test_weather_page_shows_current_conditions_and_the_history(
    market: MarketStack, user_cookie: str
) -> None:
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        current = (await api.get("/api/weather/current", params={"location": "Helsinki"})).json()
        history = (
            await api.get(
                "/api/weather/historic",
                params={
                    "location": "Helsinki",
                    "start": _iso(WEATHER_START),
                    "end": _iso(WEATHER_END),
                },
            )
        ).json()["observations"]
    assert len(history) == 14 * 24
    page = await _page(
        market, user_cookie, "/weather", location="helsinki", start="2024-01-01", end="2024-01-15"
    )
    assert page.status_code == 200, page.text
    text = _text(page)
    # Current conditions: Helsinki's card carries the API's reading; the others have none yet.
    observation = current["observation"]
    card = re.search(r'<article[^>]*aria-current="true".*?</article>', page.text, re.S)
    assert card, page.text
    card_text = _text(httpx.Response(200, text=card.group(0)))
    for shown in (
        "Helsinki",
        f"{observation['temperature']:,.1f} °C",
        f"Humidity {observation['humidity']:,.0f} %",
        f"Pressure {observation['pressure']:,.0f} hPa",
        f"Wind {observation['wind_speed']:,.1f} m/s",
        observation["description"],
        "open-meteo",
    ):
        assert shown in card_text, shown
    # London: the run's database is shared, so another test's stack may have stored a
    # reading for it by now; the page must say what the API has, either way.
    async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
        london = await api.get("/api/weather/current", params={"location": "London"})
    if london.status_code == 404 or not (london.json() or {}).get("observation"):
        assert "London No current weather stored yet." in text
    else:
        assert "London No current weather stored yet." not in text

    assert (
        '<strong data-observation-count aria-live="polite">336 observations</strong>' in page.text
    )
    temperatures = [h["temperature"] for h in history]
    assert f"Lowest temperature {min(temperatures):,.1f} °C" in text
    assert f"Highest temperature {max(temperatures):,.1f} °C" in text
    assert f"Mean temperature {sum(temperatures) / len(temperatures):,.1f} °C" in text
    assert re.search(r'<figure[^>]*aria-label="Weather chart"', page.text)
    assert '<legend class="form-label">Resolution</legend>' in page.text

    daily = await _page(
        market,
        user_cookie,
        "/weather",
        location="Helsinki",
        start="2024-01-01",
        end="2024-01-15",
        aggregate="daily",
    )
    assert daily.status_code == 200
    assert "336 observations in 14 days" in _text(daily)
    assert f"Lowest temperature {min(temperatures):,.1f} °C" in _text(daily)
    assert re.search(r'id="f-aggregate-daily" value="daily" checked', daily.text)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"location": "Atlantis"}, 404, "Unknown location 'Atlantis'"),
        ({"location": "Helsinki", "aggregate": "weekly"}, 422, "Unknown resolution 'weekly'"),
        (
            {"location": "Helsinki", "start": "2022-01-01", "end": "2024-01-01"},
            422,
            "longer than 366 days",
        ),
        (
            {"location": "Helsinki", "start": "2023-01-01", "end": "2023-01-02"},
            200,
            "No weather observations stored for Helsinki in this range yet",
        ),
    ],
)
async def test_weather_bad_input_is_a_message_on_the_page(
    market: MarketStack, user_cookie: str, params: dict[str, str], status: int, message: str
) -> None:
    page = await _page(market, user_cookie, "/weather", **params)
    assert page.status_code == status, page.text
    assert any(message in alert for alert in _alerts(page)), _alerts(page)
    assert 'aria-label="Weather chart"' not in page.text
    assert "Current conditions" in page.text


# ---- the charts in a real browser ------------------------------------------


async def _serious_axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings in the page's main content (the
    layout around it is every page's, checked by tests/browser)."""
    from axe_playwright_python.async_playwright import Axe

    result = await Axe().run(page, context="main")
    return [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_the_charts_draw_in_chromium_and_load_earlier_history(
    market: MarketStack, user_cookie: str
) -> None:
    from playwright.async_api import async_playwright, expect

    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            context = await browser.new_context(
                base_url=market.api, viewport={"width": 1280, "height": 900}
            )
            page = await context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            # Requests a navigation cut short (the icon, a chart's fetch as the page moves
            # on) are aborted, not failed.
            page.on(
                "requestfailed",
                lambda r: (
                    None
                    if "ERR_ABORTED" in (r.failure or "")
                    else problems.append(f"failed {r.url}: {r.failure}")
                ),
            )
            await page.goto("/login?next=/crypto")
            await page.get_by_label("Username").fill("marketuser")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/crypto")

            await page.goto("/crypto?symbol=BTCUSDT&interval=1h&start=2022-02-01&end=2022-03-01")
            figure = page.get_by_role("figure", name="Price chart")
            await expect(figure).to_have_attribute("data-ready", "true", timeout=15_000)
            shown = await figure.get_attribute("data-bars")
            server = re.search(
                r"(\d+) candles",
                await page.get_by_text(re.compile(r"\d+ candles")).first.inner_text(),
            )
            assert server and shown == server.group(1), (shown, server)
            first_count = int(shown or 0)
            assert first_count in (669, 672)  # before / after the gap test's backfill
            assert not await _serious_axe_violations(page)
            await page.screenshot(path=ARTIFACTS / "web-market-crypto.png", full_page=True)

            # Scrolling left reaches the first drawn bar: earlier history is prepended.
            box = await figure.bounding_box()
            assert box
            for _ in range(5):
                if await page.get_by_text("No earlier candles stored").count():
                    break
                await page.mouse.move(box["x"] + 80, box["y"] + 150)
                await page.mouse.down()
                await page.mouse.move(box["x"] + box["width"] - 80, box["y"] + 150, steps=8)
                await page.mouse.up()
                await page.wait_for_timeout(500)
            await expect(
                page.get_by_role("status").filter(has_text="No earlier candles")
            ).to_be_visible()
            async with httpx.AsyncClient(base_url=market.api, headers=market.admin) as api:
                before = await api.get(
                    "/api/crypto/prices",
                    params={
                        "symbol": "BTCUSDT",
                        "interval": "1h",
                        "end": "2022-03-01",
                        "limit": 20000,
                    },
                )
            stored = len(before.json()["candles"])
            await expect(figure).to_have_attribute("data-bars", str(stored))
            await expect(page.get_by_text(f"{stored} candles")).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "web-market-crypto-history.png", full_page=True)

            await page.goto("/stocks?symbol=NOKIA&range=all")
            figure = page.get_by_role("figure", name="Price chart")
            await expect(figure).to_have_attribute("data-ready", "true", timeout=15_000)
            stats = await _stock_stats(market, "NOKIA", "2024-06-03", "2024-09-03")
            await expect(figure).to_have_attribute("data-bars", str(stats["days"]))
            await expect(page.get_by_text(f"{stats['days']} bars")).to_be_visible()
            assert not await _serious_axe_violations(page)
            await page.screenshot(path=ARTIFACTS / "web-market-stocks.png", full_page=True)

            await page.set_viewport_size({"width": 375, "height": 812})
            await page.goto("/weather?location=Helsinki&start=2024-01-01&end=2024-01-15")
            chart = page.get_by_role("figure", name="Weather chart")
            await expect(chart).to_have_attribute("data-ready", "true", timeout=15_000)
            await expect(chart).to_have_attribute("data-points", "336")
            await page.get_by_label("Lower chart").select_option("pressure")
            await expect(chart.get_by_text("Pressure (hPa)").first).to_be_visible()
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 375, f"the page scrolls sideways at 375 px ({wide} px)"
            assert not await _serious_axe_violations(page)
            await page.screenshot(path=ARTIFACTS / "web-market-weather-375.png", full_page=True)
        finally:
            await browser.close()
    assert not problems, problems
