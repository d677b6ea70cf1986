"""Admin pages in the browser: a user is refused `/admin/users` (403, heading
`Forbidden`, no `Admin` link); an admin adds a user through `/admin/users/add`
who can then sign in; the admin disables them and their open session ends (their
next navigation lands on /login)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Pages
from tests.browser.helpers import PASSWORD, BrowserStack, register, unique

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_a_user_is_refused_the_admin_pages(pages: Pages, browser_stack: BrowserStack) -> None:
    username = unique("brwplain")
    await register(browser_stack, username)
    _, page, guard = await pages.signed_in(username)
    for path in ("/admin/users", "/admin/users/add", "/admin/database", "/admin/security"):
        response = await page.goto(path)
        assert response is not None and response.status == 403, (path, response)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
        navigation = page.get_by_role("navigation")
        await expect(navigation.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
        await expect(page.get_by_role("link", name=re.compile(r"\badmin\b", re.I))).to_have_count(0)
        await expect(navigation.get_by_role("link", name="Dashboard", exact=True)).to_be_visible()
        await guard.audit()


async def test_an_admin_adds_a_user_who_signs_in_then_disables_them_and_the_session_ends(
    pages: Pages, browser_stack: BrowserStack, admin_user: str
) -> None:
    _, admin, admin_guard = await pages.signed_in(admin_user)
    newcomer = unique("brwnew")

    await admin.goto("/admin/users")
    await expect(admin.get_by_role("table", name="Users")).to_be_visible()
    await expect(
        admin.get_by_role("navigation").get_by_role("link", name="Admin", exact=True)
    ).to_be_visible()
    await admin_guard.audit()
    await admin.get_by_role("link", name="Add user").click()
    await expect(admin).to_have_url(browser_stack.url("/admin/users/add"))
    await admin_guard.audit()
    await admin.get_by_label("Username").fill(newcomer)
    await admin.get_by_label("Email").fill(f"{newcomer}@example.com")
    await admin.get_by_label("Password").fill(PASSWORD)
    await admin.get_by_role("combobox", name="Role").select_option("user")
    await admin.get_by_role("button", name="Create user").click()
    await expect(admin.get_by_role("main")).to_contain_text(newcomer)
    await admin_guard.audit()

    # The new user signs in with the password the admin gave.
    user_context, user, user_guard = await pages.new()
    await user.goto("/login")
    await user.get_by_label("Username").fill(newcomer)
    await user.get_by_label("Password").fill(PASSWORD)
    await user.get_by_role("button", name="Sign in").click()
    await expect(user).to_have_url(browser_stack.url("/"))
    await expect(user.get_by_role("button", name="Sign out")).to_be_visible()
    await user_guard.audit()

    # The admin disables them (with a confirmation step).
    await admin.goto(f"/admin/users?search={newcomer}")
    users = admin.get_by_role("table", name="Users")
    await expect(users.get_by_role("link", name=newcomer, exact=True)).to_be_visible()
    await admin_guard.audit()
    await users.get_by_role("button", name=f"Disable {newcomer}").click()
    await expect(admin.get_by_role("heading", level=1)).to_contain_text(newcomer)
    await admin_guard.audit()
    await admin.get_by_role("button", name="Disable user").click()
    await expect(admin.get_by_role("main")).to_contain_text("disabled")
    await admin_guard.audit()

    # Their open session has ended: the next navigation lands on the sign-in form.
    await user.goto("/account")
    await expect(user).to_have_url(re.compile(r"/login\?next=/account$"))
    await expect(user.get_by_role("button", name="Sign out")).to_have_count(0)
    api = await user_context.request.get(browser_stack.url("/api/auth/me"))
    assert api.status == 401, await api.text()
    # And they cannot sign in again.
    await user.get_by_label("Username").fill(newcomer)
    await user.get_by_label("Password").fill(PASSWORD)
    await user.get_by_role("button", name="Sign in").click()
    await expect(user.get_by_role("alert")).to_be_visible()
    await expect(user.get_by_role("button", name="Sign out")).to_have_count(0)
    await user_guard.audit()
