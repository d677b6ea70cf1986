"""The page guard itself: what every other browser test relies on to fail must be
seen when it happens (a CSP violation, a console error, an uncaught exception, a
failed request, a serious axe violation), and an expected 4xx document is not a
failure. The problems are provoked on a real page behind nginx, then forgiven."""

from __future__ import annotations

import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import Pages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_the_guard_sees_what_it_must_and_forgives_an_expected_4xx(pages: Pages) -> None:
    _, page, guard = await pages.new()

    async def abort(route: Route) -> None:
        await route.abort()

    await page.route("**/guard-self-test-abort", abort)
    response = await page.goto("/no/such/page")  # anonymous: redirected to sign in
    assert response is not None
    wrong = await page.goto("/login")
    assert wrong is not None and wrong.status == 200
    await page.get_by_label("Username").fill("nobody-here")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()  # a 401 document: expected
    await guard.settle()
    assert not guard.problems(), guard.problems()

    await page.evaluate(
        """async () => {
          const script = document.createElement("script");
          script.textContent = "window.__inline = 1";
          document.head.append(script);                       // inline: CSP refuses it
          console.error("guard self-test");                   // a console error
          setTimeout(() => { throw new Error("guard self-test boom"); });
          try { await fetch("/guard-self-test-abort"); } catch (e) { /* failed */ }
          const input = document.createElement("input");      // no label: axe critical
          document.querySelector("main").append(input);
        }"""
    )
    await page.wait_for_timeout(300)
    violations = await guard.audit()
    assert any(v["id"] == "label" for v in violations), violations
    assert any("script-src" in c for c in guard.csp), guard.csp
    assert any("guard self-test" in e for e in guard.console_errors), guard.console_errors
    assert any("boom" in e for e in guard.console_errors), guard.console_errors
    assert any("guard-self-test-abort" in f for f in guard.failed_requests), guard.failed_requests
    assert await page.evaluate("() => window.__inline") is None

    # Forgiven: they were provoked on purpose.
    for found in (
        guard.csp,
        guard.console_errors,
        guard.failed_requests,
        guard.axe_violations,
        guard.server_errors,
    ):
        found.clear()
    await page.goto("/login")
