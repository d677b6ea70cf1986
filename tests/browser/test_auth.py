"""Register, sign in, sign out in Chromium behind nginx; a wrong password shows a
message (role alert); a signed-out visitor goes to /login and back after signing in."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Pages
from tests.browser.helpers import PASSWORD, BrowserStack, unique

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_register_sign_out_wrong_password_and_sign_in_back_to_the_page(
    pages: Pages, browser_stack: BrowserStack
) -> None:
    _, page, guard = await pages.new()
    username = unique("brwuser")

    # Signed out, any page sends the visitor to the sign-in form.
    await page.goto("/account")
    await expect(page).to_have_url(re.compile(r"/login\?next=/account$"))
    await expect(page).to_have_title(re.compile("Ticktide"))
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await guard.audit()

    await page.get_by_role("main").get_by_role("link", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/register$"))
    await guard.audit()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Email").fill(f"{username}@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()

    # Registered and signed in: the dashboard with the signed-in navigation.
    await expect(page).to_have_url(browser_stack.url("/"))
    nav = page.get_by_role("navigation")
    await expect(nav.get_by_role("link", name="Dashboard", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await expect(nav.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    await guard.audit()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    await expect(page.get_by_role("status")).to_contain_text("signed out")
    await guard.audit()

    # Signed out for real: the account page is refused again.
    await page.goto("/account")
    await expect(page).to_have_url(re.compile(r"/login\?next=/account$"))

    # A wrong password: a message with role alert, the username kept.
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(re.compile("wrong username or password", re.I))
    await expect(page.get_by_label("Username")).to_have_value(username)
    await guard.audit()

    # The right one: back to the page first asked for.
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(browser_stack.url("/account"))
    await expect(page.get_by_role("main")).to_contain_text(username)
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await guard.audit()
