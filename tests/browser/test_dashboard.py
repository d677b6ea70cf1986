"""The dashboard shows the prices and the weather this suite loaded through the fake
upstreams (Binance, Nasdaq, Open-Meteo, via the admin backfills and the weather
scheduler), and the `simulated` badge exactly where the data is simulated."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Pages
from tests.browser.helpers import (
    LOCATIONS,
    REAL_SYMBOL,
    SIMULATED_SYMBOL,
    BrowserStack,
    MarketData,
    register,
    unique,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def price_text(value: float) -> str:
    """A price as the operations pages print it (digits by magnitude, grouped)."""
    digits = 2 if abs(value) >= 100 else 4 if abs(value) >= 1 else 6
    return f"{value:,.{digits}f}"


def provider_number(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def row_of(table: Locator, page: Page, link_name: str) -> Locator:
    return table.get_by_role("row").filter(has=page.get_by_role("link", name=link_name, exact=True))


async def test_dashboard_shows_the_loaded_prices_and_weather_and_simulated_only_where_it_is(
    pages: Pages, browser_stack: BrowserStack, market: MarketData
) -> None:
    username = unique("brwdash")
    await register(browser_stack, username)
    context, page, guard = await pages.signed_in(username)
    answer = await context.request.get("/api/dashboard")
    assert answer.ok, await answer.text()
    api: dict[str, Any] = await answer.json()

    await page.goto("/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await guard.audit()

    # Crypto: the newest 1h close of the pair loaded from the fake Binance.
    served = browser_stack.binance.served_candles(REAL_SYMBOL, "1h")
    newest = [c for c in served if c.t < market.crypto_end][-1]
    crypto = {q["symbol"]: q for q in api["crypto"]}
    assert crypto[REAL_SYMBOL]["price"] == float(newest.c), crypto[REAL_SYMBOL]
    assert crypto[REAL_SYMBOL]["source"] == "binance"
    assert crypto[SIMULATED_SYMBOL]["source"] == "simulated"
    prices = page.get_by_role("table", name="Crypto prices")
    real_row = row_of(prices, page, REAL_SYMBOL)
    await expect(real_row).to_have_count(1)
    await expect(real_row).to_contain_text(price_text(float(newest.c)))
    await expect(real_row).to_contain_text(newest.t.strftime("%Y-%m-%d %H:%M"))

    # Stocks: the newest session's close of each stock loaded from the fake Nasdaq.
    stocks = {q["symbol"]: q for q in api["stocks"]}
    stock_table = page.get_by_role("table", name="Stock prices")
    expected_closes = {
        "AAPL": provider_number(browser_stack.nasdaq.served_us_rows("AAPL")[-1]["close"]),
        "NOKIA": provider_number(browser_stack.nasdaq.served_nordic_rows("NOKIA")[-1]["close"]),
    }
    for symbol, close in expected_closes.items():
        assert stocks[symbol]["price"] == pytest.approx(close), stocks[symbol]
        row = row_of(stock_table, page, symbol)
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(price_text(close))

    # Weather: the current reading the ingester fetched from the fake Open-Meteo.
    weather = {w["location"]: w for w in api["weather"]}
    for location in LOCATIONS:
        now = weather[location]
        assert now["temperature"] is not None, now
        card = page.get_by_role("article", name=location)
        await expect(card).to_contain_text(f"{now['temperature']:,.1f} °C")
        await expect(card).to_contain_text(f"{now['humidity']:,.0f} %")
    forecast_calls = browser_stack.meteo.requests("/v1/forecast")
    assert forecast_calls, "the ingester never asked the fake Open-Meteo for current weather"

    # The `simulated` badge: on every row whose data is simulated, and on no other.
    for table, rows, key in (
        (prices, api["crypto"], "symbol"),
        (stock_table, api["stocks"], "symbol"),
    ):
        for quote in rows:
            row = row_of(table, page, quote[key])
            badge = row.get_by_text("simulated", exact=True)
            await expect(badge).to_have_count(1 if quote["source"] == "simulated" else 0)
    for location, now in weather.items():
        card = page.get_by_role("article", name=location)
        badge = card.get_by_text("simulated", exact=True)
        await expect(badge).to_have_count(1 if now["source"] == "simulated" else 0)
    simulated_row = row_of(prices, page, SIMULATED_SYMBOL)
    await expect(simulated_row.get_by_text("simulated", exact=True)).to_be_visible()
    await expect(real_row.get_by_text("simulated", exact=True)).to_have_count(0)

    # Freshness of each source, badged only where its newest rows are simulated.
    for key, name in (("crypto", "Crypto"), ("stocks", "Stocks"), ("weather", "Weather")):
        item = page.get_by_role("listitem").filter(has_text=re.compile(rf"^\s*{name}:"))
        await expect(item).to_have_count(1)
        simulated = api["freshness"][key]["simulated"]
        await expect(item.get_by_text("simulated", exact=True)).to_have_count(int(simulated))
