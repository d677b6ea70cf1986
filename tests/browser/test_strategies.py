"""`/strategies`: a strategy written in the editor with a deliberate error
(`close[-1]` in Entry) is checked and the error shows under Entry at its position
(line 1, column 7, with the hint and the offending characters marked, Entry
aria-invalid); fixed, it checks valid and shows the parameters it declares;
saved, its version's page runs a small grid of it on the simulated pair, and the
batch's page shows the results live in the `Results` table. A system strategy
opens read-only, as an example to copy."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, Pages
from tests.browser.helpers import SIMULATED_SYMBOL, BrowserStack, MarketData, register, unique

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PARAMS = """{
  "fast": {"type": "int", "min": 2, "max": 20, "default": 3},
  "slow": {"type": "int", "min": 3, "max": 40, "default": 8}
}"""
BROKEN_ENTRY = "close[-1] > sma(close, fast)"
FIXED_ENTRY = "close[1] > sma(close, fast)"
EXIT = "close < sma(close, slow)"
# 2 × 2 parameter sets, every fast < slow; one set per job (BACKTEST_JOB_COMBINATIONS=1).
FAST = "2,3"
SLOW = "5:10:5"
JOBS = 4


async def _fill_editor(page: Page, name: str, entry: str) -> None:
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Parameters", exact=True).fill(PARAMS)
    await page.get_by_label("Entry", exact=True).fill(entry)
    await page.get_by_label("Exit", exact=True).fill(EXIT)
    await page.get_by_label("Stop loss", exact=True).fill("pct(0.05)")
    await page.get_by_label("Take profit", exact=True).fill("")
    await page.get_by_label("Constraints", exact=True).fill("fast < slow")


async def test_write_check_fix_save_and_run_a_grid_of_a_strategy(
    pages: Pages, browser_stack: BrowserStack, market: MarketData
) -> None:
    username = unique("brwst")
    await register(browser_stack, username)
    _, page, guard = await pages.signed_in(username)

    # Reached from the Backtests page.
    await page.goto("/backtests")
    await page.get_by_role("link", name="Strategies", exact=True).click()
    await page.wait_for_url(re.compile(r"/strategies$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Strategies")
    await guard.audit()

    # A deliberate error: a negative lag in Entry.
    name = f"brw sma {username[-6:]}"
    await _fill_editor(page, name, BROKEN_ENTRY)
    await page.get_by_role("button", name="Check", exact=True).click()
    entry = page.get_by_label("Entry", exact=True)
    await expect(entry).to_have_attribute("aria-invalid", "true")
    error = page.get_by_role("alert").filter(has_text=re.compile(r"line 1, column 7", re.I))
    await expect(error).to_have_count(1)
    await expect(error).to_contain_text("lags look back only: use close[1]")
    await expect(error).to_contain_text("Hint: close[1] is the value 1 bar(s) ago")
    await expect(error.locator("mark")).to_have_text("-1")
    # Under Entry, and the field's description names it.
    error_id = await error.get_attribute("id")
    described = await entry.get_attribute("aria-describedby") or ""
    assert error_id and error_id in described.split(), (error_id, described)
    await expect(page.get_by_label("Exit", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(entry).to_have_value(BROKEN_ENTRY)  # the form keeps what was typed
    await guard.audit()
    await pages.snapshot(page, "error")

    # Fixed: valid, with the parameters it declares.
    await entry.fill(FIXED_ENTRY)
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="is valid")).to_be_visible()
    declared = page.get_by_role("table", name="Declared parameters")
    await expect(declared.get_by_role("rowheader")).to_have_text(["fast", "slow"])
    await expect(page.get_by_label("Entry", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    await guard.audit()

    # Saved: version 1, listed, with the form to run a grid of it.
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r"/strategies/\d+\?version=1"))
    await expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    own = page.get_by_role("list", name="Your strategies")
    await expect(own.get_by_role("link", name=name, exact=True)).to_be_visible()
    grid = page.get_by_role("form", name="Run a grid")
    await expect(grid.get_by_label("fast", exact=True)).to_have_value("3")
    await guard.audit()

    start = (market.simulated_end - timedelta(hours=48)).date().isoformat()
    end = (market.simulated_end + timedelta(days=1)).date().isoformat()
    await grid.get_by_label("fast", exact=True).fill(FAST)
    await grid.get_by_label("slow", exact=True).fill(SLOW)
    await expect(
        grid.get_by_text(re.compile(rf"^{JOBS} parameter sets per series"))
    ).to_be_visible()
    await grid.get_by_label("Symbol", exact=True).fill(SIMULATED_SYMBOL)
    await grid.get_by_role("combobox", name="Interval").select_option("1h")
    await grid.get_by_label("Start", exact=True).fill(start)
    await grid.get_by_label("End", exact=True).fill(end)
    await grid.get_by_role("button", name="Run grid", exact=True).click()

    # The batch's page, followed live as the backtest form's batches are.
    await page.wait_for_url(re.compile(r"/backtests/[0-9a-f-]{36}$"))
    progress = page.get_by_role("progressbar")
    await expect(progress).to_have_attribute("aria-valuemax", str(JOBS), timeout=30_000)
    await expect(progress).to_have_attribute("aria-valuenow", str(JOBS), timeout=120_000)
    results = page.get_by_role("table", name="Results")
    await expect(results.get_by_role("link", name=re.compile(r"^View"))).to_have_count(JOBS)
    await expect(results).to_contain_text(SIMULATED_SYMBOL)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    await guard.audit()

    # One result in detail: run again from the saved version, its trades listed.
    batch_url = page.url
    await results.get_by_role("link", name=re.compile(r"^View")).first.click()
    await page.wait_for_url(re.compile(r"/backtests/[^/]+/result\?"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    await expect(page.get_by_role("table", name="Trades")).to_be_visible()
    await guard.audit()

    # "Use these settings" goes back to the strategy's grid form, filled in as it ran.
    await page.goto(batch_url)
    await page.get_by_role("link", name="Use these settings").click()
    await page.wait_for_url(re.compile(r"/strategies/\d+\?version=1&use="))
    grid = page.get_by_role("form", name="Run a grid")
    await expect(grid.get_by_label("fast", exact=True)).to_have_value(FAST)
    await expect(grid.get_by_label("slow", exact=True)).to_have_value("5,10")
    await expect(grid.get_by_label("Symbol", exact=True)).to_have_value(SIMULATED_SYMBOL)
    await expect(grid.get_by_label("Start", exact=True)).to_have_value(start)


async def test_a_system_strategy_opens_read_only_and_copies_into_the_editor(
    pages: Pages, browser_stack: BrowserStack
) -> None:
    username = unique("brwst")
    await register(browser_stack, username)
    _, page, guard = await pages.signed_in(username)
    await page.goto("/strategies")
    system = page.get_by_role("list", name="System strategies")
    await system.get_by_role("link", name="sma_cross", exact=True).click()
    await page.wait_for_url(re.compile(r"/strategies/\d+$"))
    entry = page.get_by_label("Entry", exact=True)
    await expect(entry).to_have_value(re.compile(r"crosses_above\(sma\(close, fast\)"))
    await expect(entry).to_have_attribute("readonly", "")
    await expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    await expect(page.get_by_role("table", name="Declared parameters")).to_contain_text("fast")
    await guard.audit()

    # At a phone's width too: nothing makes the page scroll sideways.
    _, phone, phone_guard = await pages.signed_in(username, viewport=PHONE)
    await phone.goto(page.url)
    await expect(phone.get_by_role("form", name="Run a grid")).to_be_visible()
    overflow = await phone.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{page.url} at 375 px is {overflow} px wider than the screen"
    await phone_guard.audit()

    # Checked as it is: valid, still read-only, still with its Run a grid form.
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="is valid")).to_be_visible()
    await expect(page.get_by_label("Entry", exact=True)).to_have_attribute("readonly", "")
    grid = page.get_by_role("form", name="Run a grid")
    await expect(grid.get_by_label("slow", exact=True)).to_have_value("30")

    await page.get_by_role("link", name="Edit a copy").click()
    await page.wait_for_url(re.compile(r"/strategies\?copy=\d+$"))
    entry = page.get_by_label("Entry", exact=True)
    await expect(entry).to_have_value(re.compile(r"crosses_above\(sma\(close, fast\)"))
    await expect(entry).not_to_have_attribute("readonly", "")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("")
    await expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    await guard.audit()

    # Saved without a name, then under one the API refuses: each message under Name.
    name = page.get_by_label("Name", exact=True)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(
        page.get_by_role("alert").filter(has_text="Give the strategy a name")
    ).to_be_visible()
    await name.fill("copy!")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_role("alert").filter(has_text="a name is letters")).to_be_visible()
    await expect(page.get_by_label("Entry", exact=True)).to_have_value(re.compile("crosses_above"))
    await guard.audit()
