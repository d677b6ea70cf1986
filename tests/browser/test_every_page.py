"""Every page of CONTRACT §3, signed in as an admin (the sign-in pages signed out),
at 1280 px and at 375 px: its title says Ticktide, it has one navigation landmark
with the contract's links and a `Sign out`, one `<h1>`, and no console error, CSP
violation, failed request, 5xx answer or serious/critical axe-core violation; at
375 px nothing makes the page itself scroll sideways."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages
from tests.browser.guard import PageGuard
from tests.browser.helpers import (
    BrowserStack,
    MarketData,
    api_session,
    batch_body,
    register,
    run_batch,
    unique,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NAV_LINKS = ("Dashboard", "Crypto", "Stocks", "Weather", "Backtests", "Performance", "Services")
# CONTRACT §3's pages; {batch}, {result} and {user} are filled in at run time.
SIGNED_IN_PAGES = (
    "/",
    "/account",
    "/crypto?symbol=TTBRWUSDT",
    "/stocks?symbol=AAPL",
    "/weather?location=Helsinki",
    "/backtests",
    "/backtests/{batch}",
    "{result}",
    "/strategies",
    "/performance",
    "/services",
    "/admin/users",
    "/admin/users/add",
    "/admin/users/{user}/edit",
    "/admin/database",
    "/admin/security",
    "/logout",
)
SIGNED_OUT_PAGES = ("/login", "/register")


@pytest.fixture(scope="package")
async def sample_batch(
    browser_stack: BrowserStack, market: MarketData, admin_user: str
) -> dict[str, Any]:
    """A small finished batch of the admin's, for the batch and result pages."""
    client = await api_session(browser_stack, admin_user)
    try:
        found = await run_batch(client, batch_body(market, {"fast": [10, 20], "slow": [50]}))
    finally:
        await client.aclose()
    assert found["status"] == "done" and found["results"], found
    return found


@pytest.fixture(scope="package")
async def edit_target(browser_stack: BrowserStack, db_pool: asyncpg.Pool) -> int:
    name = unique("brwedit")
    await register(browser_stack, name)
    return int(await db_pool.fetchval("SELECT id FROM users WHERE username = $1", name))


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "dashboard"


async def _result_path(page: Page, batch_id: str) -> str:
    """The first result's page, as the batch page links it."""
    await page.goto(f"/backtests/{batch_id}")
    results = page.get_by_role("table", name="Results")
    await expect(results).to_be_visible()
    link = results.get_by_role("link").first
    href = await link.get_attribute("href")
    assert href, "the Results table links no result"
    return href


async def check_page(
    page: Page, guard: PageGuard, path: str, *, signed_in: bool, phone: bool
) -> None:
    response = await page.goto(path)
    assert response is not None
    assert response.status == 200, f"{path} answered {response.status}"
    await guard.settle()
    await expect(page).to_have_title(re.compile("Ticktide"))
    navigation = page.get_by_role("navigation")
    await expect(navigation, f"{path}: one navigation landmark").to_have_count(1)
    await expect(page.get_by_role("heading", level=1), f"{path}: one <h1>").to_have_count(1)
    if signed_in:
        for name in (*NAV_LINKS, "Admin"):
            link = navigation.get_by_role("link", name=name, exact=True)
            await expect(link, f"{path}: nav link {name}").to_have_count(1)
            if not phone:
                await expect(link).to_be_visible()
        sign_out = page.get_by_role("button", name="Sign out").or_(
            page.get_by_role("link", name="Sign out")
        )
        await expect(sign_out.first, f"{path}: Sign out").to_be_attached()
    else:
        await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    await guard.audit(settle=False)
    if phone:
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} at 375 px is {overflow} px wider than the screen"


@pytest.mark.parametrize("template", SIGNED_IN_PAGES, ids=_slug)
async def test_signed_in_page_at_desktop_and_phone_width(
    template: str,
    pages: Pages,
    browser_stack: BrowserStack,
    admin_user: str,
    market: MarketData,
    sample_batch: dict[str, Any],
    edit_target: int,
) -> None:
    batch_id = sample_batch["batch_id"]
    for viewport, phone in ((DESKTOP, False), (PHONE, True)):
        _, page, guard = await pages.signed_in(admin_user, viewport=viewport)
        path = template.format(batch=batch_id, user=edit_target, result="")
        if template == "{result}":
            path = await _result_path(page, batch_id)
        await check_page(page, guard, path, signed_in=True, phone=phone)


@pytest.mark.parametrize("path", SIGNED_OUT_PAGES, ids=_slug)
async def test_signed_out_page_at_desktop_and_phone_width(
    path: str, pages: Pages, browser_stack: BrowserStack
) -> None:
    for viewport, phone in ((DESKTOP, False), (PHONE, True)):
        _, page, guard = await pages.new(viewport=viewport)
        await check_page(page, guard, path, signed_in=False, phone=phone)
