"""`/backtests`: a 50-job grid submitted from the form; the progressbar reaches
50 of 50 and the `Results` table fills without a reload; the network is cut for
a few seconds mid-batch and every result still arrives exactly once. Then one
result: its `N trades`, the trades marked on its `Price chart` and the API's
trade count for it are the same number."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Pages
from tests.browser.guard import PageGuard
from tests.browser.helpers import (
    BACKTEST_SYMBOL,
    BrowserStack,
    MarketData,
    api_session,
    register,
    unique,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# 10 × 5 parameter sets, every fast < slow; one set per job (BACKTEST_JOB_COMBINATIONS=1).
FAST = "5:50:5"
SLOW = "60:100:10"
JOBS = 50
OFFLINE_SECONDS = 4.0


async def value_now(page: Page) -> int:
    text = await page.get_by_role("progressbar").get_attribute("aria-valuenow")
    return int(text or 0)


async def latest_batch_id(api: httpx.AsyncClient) -> str:
    answer = await api.get("/api/crypto/backtest/batches", params={"limit": 1})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["batches"][0]["batch_id"])


async def jobs_done(api: httpx.AsyncClient, batch_id: str) -> int:
    answer = await api.get(f"/api/crypto/backtest/batch/{batch_id}", params={"limit": 1})
    assert answer.status_code == 200, answer.text
    jobs = answer.json()["jobs"]
    return int(jobs["done"]) + int(jobs["failed"]) + int(jobs["skipped"])


async def result_params(page: Page) -> list[str]:
    """The params column of every row of the Results table, as shown."""
    table = page.get_by_role("table", name="Results")
    headers = await table.get_by_role("columnheader").all_inner_texts()
    column = [h.strip() for h in headers].index("params")
    texts: list[str] = await table.evaluate(
        "(table, column) => [...table.tBodies[0].rows]"
        ".map(row => row.cells[column].textContent.trim())",
        column,
    )
    return texts


async def test_a_50_job_grid_live_through_a_network_cut_and_one_result_in_detail(
    pages: Pages, browser_stack: BrowserStack, market: MarketData
) -> None:
    username = unique("brwbt")
    await register(browser_stack, username)
    context, page, guard = await pages.signed_in(username)
    api = await api_session(browser_stack, username)  # outside the browser: never offline
    try:
        await _grid_and_result(pages, context, page, guard, api, market)
    finally:
        await api.aclose()


async def _grid_and_result(
    pages: Pages,
    context: BrowserContext,
    page: Page,
    guard: PageGuard,
    api: httpx.AsyncClient,
    market: MarketData,
) -> None:
    await page.goto("/backtests")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Backtests")
    await guard.audit()
    await page.evaluate("() => { window.__ttSamePage = 'no reload'; }")

    start = (market.crypto_start + timedelta(days=1)).date().isoformat()
    end = market.crypto_end.date().isoformat()
    await page.get_by_role("combobox", name="Strategy").select_option("sma_cross")
    await page.get_by_label("fast", exact=True).fill(FAST)
    await page.get_by_label("slow", exact=True).fill(SLOW)
    await page.get_by_label("Symbol", exact=True).fill(BACKTEST_SYMBOL)
    await page.get_by_role("combobox", name="Interval").select_option("1h")
    await page.get_by_label("Start", exact=True).fill(start)
    await page.get_by_label("End", exact=True).fill(end)
    await page.get_by_label("Fee", exact=True).fill("0.001")
    await page.get_by_label("Slippage (bps)", exact=True).fill("5")
    await page.get_by_label("Initial cash", exact=True).fill("10000")
    await expect(page.get_by_text(re.compile(rf"\b{JOBS} parameter sets"))).to_be_visible()
    await page.get_by_role("button", name="Run").click()

    progress = page.get_by_role("progressbar")
    await expect(progress).to_be_visible()
    await expect(progress).to_have_attribute("aria-valuemax", str(JOBS), timeout=15_000)
    await expect(page.get_by_role("button", name="Cancel")).to_be_visible()

    # Cut the page's network as soon as it shows the first job done, for a few
    # seconds: what it has not received yet must come after, through the resumed
    # stream, each result once (the server may well finish meanwhile).
    deadline = time.monotonic() + 60
    while (shown_at_cut := await value_now(page)) < 1:
        assert time.monotonic() < deadline, "no job finished within a minute"
        await asyncio.sleep(0.01)
    guard.going_offline()
    await context.set_offline(True)
    cut_at = time.monotonic()
    batch_id = await latest_batch_id(api)
    done_at_cut = await jobs_done(api, batch_id)  # the server's count, for the record
    await asyncio.sleep(max(0.0, OFFLINE_SECONDS - (time.monotonic() - cut_at)))
    await context.set_offline(False)
    guard.back_online()
    print(
        f"network cut for {OFFLINE_SECONDS:g} s with {shown_at_cut}/{JOBS} jobs shown done,"
        f" {done_at_cut} done on the server"
    )
    assert shown_at_cut < JOBS, f"the page had every result ({shown_at_cut}) before the cut"

    await expect(progress).to_have_attribute("aria-valuenow", str(JOBS), timeout=120_000)
    await expect(progress).to_have_attribute("aria-valuemax", str(JOBS))
    results = page.get_by_role("table", name="Results")
    views = results.get_by_role("link", name=re.compile(r"^View"))
    await expect(views).to_have_count(JOBS, timeout=30_000)
    assert await page.evaluate("() => window.__ttSamePage") == "no reload"

    # Exactly once: as many rows as backtests, no parameter set twice, the API's sets.
    shown = await result_params(page)
    assert len(shown) == JOBS and len(set(shown)) == JOBS, shown
    batch_href = await page.get_by_role(
        "link", name=re.compile("batch's page", re.I)
    ).get_attribute("href")
    assert batch_href == f"/backtests/{batch_id}", batch_href
    answer = await context.request.get(f"/api/crypto/backtest/batch/{batch_id}")
    assert answer.ok, await answer.text()
    batch: dict[str, Any] = await answer.json()
    assert batch["jobs"]["total"] == JOBS and batch["jobs"]["done"] == JOBS, batch["jobs"]
    assert len(batch["results"]) == JOBS
    api_sets = {(r["params"]["fast"], r["params"]["slow"]) for r in batch["results"]}
    assert len(api_sets) == JOBS
    shown_sets = set()
    for text in shown:
        found = dict(re.findall(r"(\w+)=([\d.]+)", text))
        shown_sets.add((int(found["fast"]), int(found["slow"])))
    assert shown_sets == api_sets
    await guard.audit()
    await pages.snapshot(page, "live")

    # One result: `N trades` = trades marked on its chart = the API's count.
    await views.first.click()
    await page.wait_for_url(re.compile(r"/backtests/[^/]+/result\?"))
    query = parse_qs(urlsplit(page.url).query)
    job, params = query["job"][0], json.loads(query["params"][0])
    expected = [r for r in batch["results"] if str(r["job_id"]) == job and r["params"] == params]
    assert len(expected) == 1, (job, params)
    api_trades = int(expected[0]["metrics"]["trades"])
    figure = page.get_by_role("figure", name="Price chart")
    marked = figure.get_by_text(re.compile(r"[\d,]+ trades marked"))
    await expect(marked).to_be_visible(timeout=20_000)
    marked_count = int(re.search(r"([\d,]+) trades marked", await marked.inner_text()).group(1))  # type: ignore[union-attr]
    stated = page.get_by_text(re.compile(r"^\s*[\d,]+ trades\s*$"))
    stated_count = int(re.sub(r"\D", "", await stated.first.inner_text()))
    assert stated_count == api_trades, f"the page says {stated_count} trades, the API {api_trades}"
    assert marked_count == api_trades, f"{marked_count} trades marked, the API says {api_trades}"
    trades_table = page.get_by_role("table", name="Trades")
    await expect(trades_table).to_be_visible()
    await guard.audit()
