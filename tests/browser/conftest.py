"""Fixtures of the browser tests: the whole stack started the way a user starts it
(`make up` on this run's own ports, database and prefixes, upstreams answered by
fakes; `make down` at the end whatever happens), one headless Debian Chromium for
the suite, and per test fresh browser contexts whose every page is guarded (console
errors, CSP violations, failed requests, 5xx answers, axe-core) and photographed
into test-artifacts/ at the end.

Everything goes through nginx over HTTPS, as a user's browser does. The stack and the
browser are package-scoped: they stop when the last browser test is done, not at the
end of the whole run (`make test` goes on with the other suites meanwhile)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.browser.guard import PageGuard, install_csp_listener
from tests.browser.helpers import (
    PASSWORD,
    BrowserStack,
    MarketData,
    forget_market_data,
    load_market_data,
    make_admin,
    make_down,
    make_up,
    register,
    sign_in,
    stack_environment,
    unique,
)
from tests.stack import admin_headers
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
NO_ARCHIVE_LAG = timedelta(0)  # the fake Open-Meteo archive serves every past hour
# A shared 2-core machine under a full `make test` is slow at times: generous waits
# (a wait ends as soon as its condition holds, so they cost nothing when all is well).
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def artifacts_dir(repo_root: Path) -> Path:
    path = repo_root / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="package")
async def browser_stack(
    repo_root: Path,
    service_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[BrowserStack]:
    """`make up` with fake Binance, Nasdaq and Open-Meteo; `make down` at the end."""
    run_dir = tmp_path_factory.mktemp("browser-run")
    env_file = run_dir / "empty.env"
    env_file.write_text("")
    with (
        FakeBinance() as binance,
        FakeNasdaq() as nasdaq,
        FakeOpenMeteo(archive_lag=NO_ARCHIVE_LAG) as meteo,
    ):
        env = stack_environment(service_env, run_dir / "run", env_file, binance, nasdaq, meteo)
        stack = BrowserStack(
            base_url=f"https://localhost:{env['TICKTIDE_HTTPS_PORT']}",
            env=env,
            run_dir=run_dir / "run",
            binance=binance,
            nasdaq=nasdaq,
            meteo=meteo,
        )
        with _down_on_sigterm(stack, repo_root):
            try:
                await make_up(stack, repo_root)
                assert f"{stack.base_url}/" in stack.up_output, stack.up_output
                print(f"\nmake up took {stack.up_seconds:.1f} s")
                yield stack
            finally:
                await make_down(stack, repo_root)


@contextmanager
def _down_on_sigterm(stack: BrowserStack, repo_root: Path) -> Iterator[None]:
    """A run stopped with SIGTERM (`timeout`, a CI runner) runs no fixture teardown:
    `make up` started the stack in a session of its own, so it would outlive the
    run. Stop it first, then end as SIGTERM would have."""
    previous = signal.getsignal(signal.SIGTERM)

    def stop_then_die(signum: int, frame: object) -> None:
        subprocess.run(
            ["make", "--no-print-directory", "down"],
            cwd=repo_root,
            env=stack.env,
            timeout=90,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_then_die)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="package")
async def admin_api_headers(browser_stack: BrowserStack, db_pool: asyncpg.Pool) -> dict[str, str]:
    """`Authorization` of an admin's API token (made in the database)."""
    return await admin_headers(db_pool)


@pytest.fixture(scope="package")
async def market(
    browser_stack: BrowserStack, db_pool: asyncpg.Pool, admin_api_headers: dict[str, str]
) -> AsyncIterator[MarketData]:
    """Crypto, stocks and weather loaded through the fakes (and one simulated pair)."""
    data = await load_market_data(browser_stack, db_pool, admin_api_headers)
    yield data
    await forget_market_data(db_pool)


@pytest.fixture(scope="package")
async def admin_user(browser_stack: BrowserStack, db_pool: asyncpg.Pool) -> str:
    """An admin who signs in with a password (registered, then promoted)."""
    name = unique("brwadmin")
    await register(browser_stack, name)
    await make_admin(db_pool, name)
    return name


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


class Pages:
    """Browser contexts and guarded pages of one test; `new()` makes one."""

    def __init__(self, browser: Browser, stack: BrowserStack, label: str, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.browser = browser
        self.stack = stack
        self.label = label
        self.contexts: list[BrowserContext] = []
        self.guards: list[PageGuard] = []

    async def new_context(self, viewport: dict[str, int] | None = None) -> BrowserContext:
        context = await self.browser.new_context(
            ignore_https_errors=True,
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            base_url=self.stack.base_url,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        await install_csp_listener(context)

        def guard_new_page(page: Page) -> None:  # popups too
            self._guard(page)

        context.on("page", guard_new_page)
        self.contexts.append(context)
        return context

    def _guard(self, page: Page) -> PageGuard:
        for guard in self.guards:
            if guard.page is page:
                return guard
        guard = PageGuard(page, f"{self.label}#{len(self.guards) + 1}")
        self.guards.append(guard)
        return guard

    async def new(
        self, viewport: dict[str, int] | None = None, context: BrowserContext | None = None
    ) -> tuple[BrowserContext, Page, PageGuard]:
        context = context or await self.new_context(viewport)
        page = await context.new_page()
        return context, page, self._guard(page)

    async def signed_in(
        self, username: str, password: str = PASSWORD, viewport: dict[str, int] | None = None
    ) -> tuple[BrowserContext, Page, PageGuard]:
        context = await self.new_context(viewport)
        await sign_in(context, self.stack, username, password)
        return await self.new(context=context)

    def guard(self, page: Page) -> PageGuard:
        return self._guard(page)

    async def snapshot(self, page: Page, suffix: str) -> None:
        """A screenshot of `page` as it is now, besides the final ones."""
        await self._guard(page).screenshot(self.artifacts / f"{self.label}-{suffix}.png")

    async def finish(self, artifacts: Path, test_name: str) -> list[str]:
        problems: list[str] = []
        names: set[str] = set()
        for index, guard in enumerate(self.guards):
            size = guard.page.viewport_size
            suffix = f"-{size['width']}px" if size and size["width"] != DESKTOP["width"] else ""
            if f"{test_name}{suffix}" in names:
                suffix = f"-{index + 1}{suffix}"
            names.add(f"{test_name}{suffix}")
            if not guard.page.is_closed():
                await guard.screenshot(artifacts / f"{test_name}{suffix}.png")
            problems.extend(guard.problems())
            guard.close()
        for context in self.contexts:
            await context.close()
        return problems


def _file_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1]).strip("_")[:120]


@pytest.fixture
async def pages(
    request: pytest.FixtureRequest,
    browser: Browser,
    browser_stack: BrowserStack,
    artifacts_dir: Path,
) -> AsyncIterator[Pages]:
    """This test's pages: each guarded, each photographed at the end, and every
    console error, CSP violation, failed request, 5xx or serious axe violation
    on any of them fails the test (at teardown, listed in full)."""
    made = Pages(browser, browser_stack, _file_name(request.node.nodeid), artifacts_dir)
    yield made
    problems = await made.finish(artifacts_dir, _file_name(request.node.nodeid))
    assert not problems, "problems on the pages of this test:\n" + "\n".join(problems)
