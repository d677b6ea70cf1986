"""What every browser test checks on every page it opens, whatever the test is about:
no console errors, no CSP violations, no failed requests, no 5xx answers, and no
serious or critical accessibility violations (axe-core) on each page it looked at.

`PageGuard` listens to one page from its creation; `audit()` runs axe-core on the
page as it is now; `problems()` lists everything found, one line each, so that a
test's teardown can fail with the whole list (page, what, where).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import BrowserContext, ConsoleMessage, Page, Request, Response

__all__ = ["CSP_LISTENER", "PageGuard", "install_csp_listener", "guard_of"]

# The page reports each violation to the binding (Playwright's, so not subject to
# the page's CSP); an init script runs before any of the page's own scripts.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  try {
    window.__ttCspViolation({
      directive: event.violatedDirective,
      blocked: event.blockedURI,
      source: event.sourceFile,
      line: event.lineNumber,
      sample: event.sample,
      document: event.documentURI,
    });
  } catch (error) { /* the binding is gone while the page closes */ }
}, true);
"""

# After the network comes back, failures the cut caused may still be reported.
OFFLINE_GRACE_SECONDS = 3.0
SERIOUS = ("serious", "critical")
# Long-lived answers (SSE) never "finish": they do not keep a page unsettled.
STREAMING_TYPES = ("eventsource", "websocket")

_axe = Axe()
_GUARDS: dict[int, PageGuard] = {}


def guard_of(page: Page) -> PageGuard | None:
    return _GUARDS.get(id(page))


async def install_csp_listener(context: BrowserContext) -> None:
    """Every page of `context` reports CSP violations to its guard."""

    def report(source: dict[str, Any], violation: dict[str, Any]) -> None:
        guard = guard_of(source["page"])
        if guard is not None:
            guard.csp.append(
                f"{violation.get('directive')} blocked {violation.get('blocked')!r}"
                f" (source {violation.get('source')}:{violation.get('line')},"
                f" sample {violation.get('sample')!r}) on {violation.get('document')}"
            )

    await context.expose_binding("__ttCspViolation", report)
    await context.add_init_script(CSP_LISTENER)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class PageGuard:
    page: Page
    label: str
    console_errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    axe_violations: list[str] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    # Answers the test expects to be 4xx (path prefixes), besides 4xx documents.
    expected_statuses: list[tuple[str, int]] = field(default_factory=list)
    _error_documents: set[str] = field(default_factory=set)
    _inflight: set[Request] = field(default_factory=set)
    _navigations: int = 0
    _navigated_at: list[float] = field(default_factory=list)
    _started_at: dict[Request, float] = field(default_factory=dict)
    # Aborted requests: whether a navigation explains them is decided at the end.
    _aborted: list[tuple[float, float, str]] = field(default_factory=list)
    _offline: bool = False
    _offline_until: float = 0.0
    _closing: bool = False

    def __post_init__(self) -> None:
        _GUARDS[id(self.page)] = self
        page = self.page
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_request_done)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        page.on("framenavigated", self._on_navigated)

    # ---- the network cut, caused by the test ------------------------------
    def going_offline(self) -> None:
        self._offline = True

    def back_online(self) -> None:
        self._offline = False
        self._offline_until = time.monotonic() + OFFLINE_GRACE_SECONDS

    def _excused_by_offline(self, text: str) -> bool:
        if self._offline or time.monotonic() < self._offline_until:
            return True
        return self._offline_until > 0 and "ERR_INTERNET_DISCONNECTED" in text

    def expect_status(self, path_prefix: str, status: int) -> None:
        """An answer the test provokes on purpose (e.g. a 422 from the API)."""
        self.expected_statuses.append((path_prefix, status))

    # ---- listeners --------------------------------------------------------
    def _where(self) -> str:
        try:
            return _path(self.page.url)
        except Exception:  # the page is closing
            return "?"

    def _on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        location = message.location or {}
        where = f"{self._where()} ({location.get('url', '')}:{location.get('lineNumber', '')})"
        if text.startswith("Refused to") or "Content Security Policy" in text:
            self.csp.append(f"console: {text} on {where}")
            return
        if message.type != "error" or self._closing:
            return
        if self._excused_by_offline(text):
            return
        if text.startswith("Failed to load resource: the server responded with a status of 4"):
            url = location.get("url", "")
            if url in self._error_documents or self._expected(url, text):
                return
        self.console_errors.append(f"{text} on {where}")

    def _expected(self, url: str, text: str) -> bool:
        path = _path(url)
        return any(
            path.startswith(prefix) and f"status of {status}" in text
            for prefix, status in self.expected_statuses
        )

    def _on_page_error(self, error: Exception) -> None:
        if not self._closing:
            self.console_errors.append(f"uncaught exception: {error} on {self._where()}")

    def _on_request(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self._navigation()
        self._started_at[request] = time.monotonic()
        if request.resource_type not in STREAMING_TYPES:
            self._inflight.add(request)

    def _on_request_done(self, request: Request) -> None:
        self._inflight.discard(request)
        self._started_at.pop(request, None)

    def _on_navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self._navigation()

    def _navigation(self) -> None:
        self._navigations += 1
        self._navigated_at.append(time.monotonic())

    def _on_request_failed(self, request: Request) -> None:
        self._inflight.discard(request)
        started = self._started_at.pop(request, time.monotonic())
        failure = request.failure or "?"
        if self._closing or self._excused_by_offline(failure):
            return
        what = (
            f"{request.method} {_path(request.url)} ({request.resource_type}): {failure}"
            f" on {self._where()}"
        )
        if failure == "net::ERR_ABORTED":
            if request.resource_type in ("fetch", "eventsource"):
                return  # cancelled by the page's own code (an AbortController)
            self._aborted.append((started, time.monotonic(), what))
            return
        self.failed_requests.append(what)

    def _aborted_without_navigation(self) -> list[str]:
        """Aborted requests that no navigation around them explains (a page that
        was left aborts what it was loading; the events may come in either order)."""
        return [
            what
            for started, failed, what in self._aborted
            if not any(started - 0.05 <= t <= failed + 1.0 for t in self._navigated_at)
        ]

    def _on_response(self, response: Response) -> None:
        status = response.status
        request = response.request
        if status >= 500:
            self.server_errors.append(
                f"{status} for {request.method} {_path(response.url)} on {self._where()}"
            )
        elif status >= 400 and request.resource_type == "document":
            self._error_documents.add(response.url)

    # ---- checks -----------------------------------------------------------
    async def settle(self, quiet_ms: int = 250, timeout_s: float = 6.0) -> None:
        """Wait until the page has loaded and no request (but streams) has been
        in flight for `quiet_ms` (at most `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        try:
            await self.page.wait_for_load_state("load", timeout=timeout_s * 1000)
        except Exception:
            return
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            pending = [r for r in self._inflight if not r.url.endswith("/events")]
            if pending:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
            await asyncio.sleep(0.05)

    async def audit(self, *, settle: bool = True) -> list[dict[str, Any]]:
        """axe-core on the page as it is now; serious and critical violations are
        recorded (and returned)."""
        if settle:
            await self.settle()
        where = self._where()
        results = await _axe.run(self.page)
        serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
        for violation in serious:
            targets = "; ".join(
                " ".join(map(str, node.get("target", []))) for node in violation["nodes"][:5]
            )
            first = violation["nodes"][0] if violation["nodes"] else {}
            summary = " ".join(str(first.get("failureSummary", "")).split())
            self.axe_violations.append(
                f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}"
                f" -> {targets} [{summary[:300]}]"
            )
        self.audited.append(where)
        return serious

    def problems(self) -> list[str]:
        lines: list[str] = []
        for kind, found in (
            ("console error", self.console_errors),
            ("CSP violation", self.csp),
            ("failed request", self.failed_requests + self._aborted_without_navigation()),
            ("server error", self.server_errors),
            ("axe", self.axe_violations),
        ):
            lines.extend(f"[{self.label}] {kind}: {item}" for item in found)
        return lines

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self.page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a closed page: nothing to show, not a failure of its own
            self.console_errors.append(f"(no screenshot: {exc})")

    def close(self) -> None:
        self._closing = True
        _GUARDS.pop(id(self.page), None)
