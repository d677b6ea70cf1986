"""`/crypto` draws a candle chart whose number of bars (the page's `N candles`,
which the chart's script writes once it has drawn them) equals the API's count of
candles for the same symbol, interval and range."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Response, expect

from tests.browser.conftest import Pages
from tests.browser.guard import PageGuard
from tests.browser.helpers import REAL_SYMBOL, BrowserStack, MarketData, register, unique

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CANDLES = re.compile(r"(\d[\d,]*) candles")


async def api_count(
    context: BrowserContext, symbol: str, interval: str, start: str, end: str
) -> int:
    answer = await context.request.get(
        "/api/crypto/prices",
        params={"symbol": symbol, "interval": interval, "start": start, "end": end},
    )
    assert answer.ok, await answer.text()
    body: dict[str, Any] = await answer.json()
    assert body["symbol"] == symbol and body["interval"] == interval, body
    return len(body["candles"])


async def drawn_count(page: Page) -> int:
    """The `N candles` text once the chart has drawn its candles."""
    figure = page.get_by_role("figure", name="Price chart")
    await expect(figure).to_be_visible()
    await expect(figure.locator("canvas").first).to_be_visible()
    status = page.get_by_role("status").filter(has_text="Loading")
    await expect(status).to_have_count(0, timeout=15_000)
    text = await page.get_by_text(CANDLES).first.inner_text()
    found = CANDLES.search(text)
    assert found, text
    return int(found.group(1).replace(",", ""))


async def stated_range(page: Page) -> tuple[str, str]:
    """The page's stated [start, end): its two <time datetime> elements."""
    times = page.get_by_role("time")
    await expect(times).to_have_count(2)
    start = await times.nth(0).get_attribute("datetime")
    end = await times.nth(1).get_attribute("datetime")
    assert start and end
    return start, end


def collect_price_answers(page: Page) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if "/api/crypto/prices" in r.url else None)
    return seen


async def candles_in(answers: list[Response]) -> int:
    """The candles the chart was given; it asks for the compact shape (columns)."""
    total = 0
    for answer in answers:
        assert "format=columns" in answer.url, answer.url
        body = await answer.json()
        assert len(body["t"]) == len(body["o"]) == len(body["v"]), answer.url
        total += len(body["t"])
    return total


async def show(
    page: Page, guard: PageGuard, interval: str, range_label: str, start: str = "", end: str = ""
) -> None:
    await page.get_by_role("combobox", name="Symbol").select_option(REAL_SYMBOL)
    await page.get_by_role("combobox", name="Interval").select_option(interval)
    await page.get_by_role("combobox", name="Range").select_option(label=range_label)
    if start:
        await page.get_by_label("Start").fill(start)
        await page.get_by_label("End").fill(end)
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(re.compile(rf"/crypto\?.*symbol={REAL_SYMBOL}"))


async def test_crypto_chart_draws_as_many_candles_as_the_api_has_for_the_range(
    pages: Pages, browser_stack: BrowserStack, market: MarketData
) -> None:
    username = unique("brwcrypto")
    await register(browser_stack, username)
    context, page, guard = await pages.signed_in(username)
    await page.goto("/crypto")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Crypto")
    await guard.audit()

    # A custom range inside what is stored, 1h candles.
    start_day = (market.crypto_start + timedelta(days=5)).date()
    end_day = (market.crypto_end - timedelta(days=2)).date()
    answers = collect_price_answers(page)  # from here: what the chart asks for
    await show(
        page, guard, "1h", "Custom (Start and End)", start_day.isoformat(), end_day.isoformat()
    )
    count = await drawn_count(page)
    start, end = await stated_range(page)
    assert datetime.fromisoformat(start).date() == start_day, start
    assert datetime.fromisoformat(end).date() == end_day, end
    expected = await api_count(context, REAL_SYMBOL, "1h", start, end)
    assert expected == (end_day - start_day).days * 24  # every hour stored, none missing
    assert count == expected, f"the page says {count} candles, the API has {expected}"
    assert await candles_in(answers) == expected, "the chart was given other candles"
    await guard.audit()

    # A preset range at another interval: the page states it, the API agrees.
    answers.clear()
    await show(page, guard, "1d", "All stored")
    count = await drawn_count(page)
    start, end = await stated_range(page)
    expected = await api_count(context, REAL_SYMBOL, "1d", start, end)
    assert expected > 0
    assert count == expected, f"the page says {count} candles, the API has {expected}"
    await guard.audit()
