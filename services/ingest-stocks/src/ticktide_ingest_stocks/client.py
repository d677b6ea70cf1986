"""Outbound HTTP to NASDAQ (US) and Nasdaq Nordic (Helsinki), over httpx.

Both providers sit behind a bot filter that wants a browser: every request
sends a browser User-Agent, Accept, Accept-Language, Origin and Referer.

One request for one date window is retried as a whole, with exponential
backoff (`http_backoff_seconds × 2^n`, at most `http_max_attempts` tries), when
it fails in a way that may pass: a 5xx or 429, a timeout or connection error,
an answer we cannot parse, or an empty page for a window that has closed
sessions (`expect_rows`). When every try failed: `UpstreamUnavailableError`
(`UpstreamEmptyError` for "provider returned no rows for ...") or, for an
unparseable answer, `UpstreamFormatError`. An error status block (unknown
symbol) or another 4xx is a `ProviderRejectedError` at once, with the
provider's message. Nothing of a failed answer is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import httpx

from ticktide_common.logging import get_logger
from ticktide_common.messages import StockBarV1
from ticktide_common.settings import Settings
from ticktide_ingest_stocks import nasdaq, nordic
from ticktide_ingest_stocks.errors import (
    ProviderRejectedError,
    UpstreamEmptyError,
    UpstreamFormatError,
    UpstreamUnavailableError,
)
from ticktide_ingest_stocks.nasdaq import ParsedPage

__all__ = ["BROWSER_HEADERS", "NasdaqClient", "NordicClient", "UpstreamHttp"]

log = get_logger(__name__)
T = TypeVar("T")

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36"
    ),
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9",
    "Origin": "https://www.nasdaq.com",
    "Referer": "https://www.nasdaq.com/",
}


class _Retryable(Exception):
    """One try failed in a way that may pass."""


class _Empty(_Retryable):
    pass


class UpstreamHttp:
    """GET JSON from one provider with the retry policy of the module docstring."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: str,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.provider = provider
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    async def get_json(self, path: str, params: dict[str, str]) -> Any:
        """One try: the decoded body of a 200, or raises."""
        try:
            response = await self.http.get(path, params=params, headers=BROWSER_HEADERS)
        except httpx.TransportError as exc:
            raise _Retryable(
                f"{self.provider} unreachable at {self.http.base_url}: {exc!r}"
            ) from exc
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise _Retryable(f"{self.provider} answered HTTP {status}: {response.text[:200]!r}")
        if status >= 400:
            raise ProviderRejectedError(
                f"{self.provider} refused {path} (HTTP {status}): {response.text[:200]!r}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamFormatError(
                f"{self.provider} answered non-JSON: {response.text[:200]!r}"
            ) from exc

    async def retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` until it succeeds, a permanent error, or the last try."""
        last: Exception | None = None
        for number in range(1, self.max_attempts + 1):
            try:
                return await attempt()
            except (_Retryable, UpstreamFormatError) as exc:
                last = exc
                log.warning(
                    "upstream.retry",
                    provider=self.provider,
                    what=what,
                    attempt=number,
                    error=str(exc)[:300],
                )
            if number < self.max_attempts:
                await self.sleep(self.backoff_seconds * 2 ** (number - 1))
        if isinstance(last, _Empty):
            raise UpstreamEmptyError(
                f"provider returned no rows for {what} ({self.max_attempts} tries)"
            )
        if isinstance(last, UpstreamFormatError):
            raise UpstreamFormatError(f"{last} ({self.max_attempts} tries)")
        raise UpstreamUnavailableError(f"{last} ({self.max_attempts} tries)")

    async def page(
        self, what: str, request: Callable[[], Awaitable[ParsedPage]], *, expect_rows: bool
    ) -> list[StockBarV1]:
        """Bars of one window; an empty page where rows were expected is retried."""

        async def attempt() -> list[StockBarV1]:
            parsed = await request()
            if parsed.refused:
                log.warning(
                    "upstream.rows_refused",
                    provider=self.provider,
                    what=what,
                    refused=parsed.refused[:10],
                    count=len(parsed.refused),
                )
            if not parsed.bars and expect_rows:
                raise _Empty(f"{self.provider} returned no rows for {what}")
            return parsed.bars

        return await self.retrying(what, attempt)


def _upstream(
    http: httpx.AsyncClient, provider: str, settings: Settings | None, overrides: dict[str, Any]
) -> UpstreamHttp:
    options: dict[str, Any] = {}
    if settings is not None:
        options = {
            "max_attempts": settings.http_max_attempts,
            "backoff_seconds": settings.http_backoff_seconds,
        }
    return UpstreamHttp(http, provider=provider, **{**options, **overrides})


class NasdaqClient:
    """Daily bars of US stocks from NASDAQ's historical-quote API."""

    source = "nasdaq"

    def __init__(self, upstream: UpstreamHttp) -> None:
        self.upstream = upstream

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None, **overrides: Any
    ) -> NasdaqClient:
        http = http or httpx.AsyncClient(
            base_url=settings.nasdaq_base_url, timeout=settings.http_timeout_seconds
        )
        return cls(_upstream(http, "NASDAQ", settings, overrides))

    async def bars(
        self, provider_symbol: str, first: date, last: date, *, expect_rows: bool
    ) -> list[StockBarV1]:
        """Bars of sessions `first`..`last` (inclusive), oldest first."""
        path = nasdaq.historical_path(provider_symbol)
        params = nasdaq.historical_params(first, last, limit=(last - first).days + 1)

        async def request() -> ParsedPage:
            payload = await self.upstream.get_json(path, params)
            return nasdaq.parse_historical(payload, provider_symbol)

        what = f"{provider_symbol} {first}..{last}"
        return await self.upstream.page(what, request, expect_rows=expect_rows)


class NordicClient:
    """Orderbook ids from the Helsinki share screener, daily bars from chart/download."""

    source = "nasdaq-nordic"

    def __init__(self, upstream: UpstreamHttp) -> None:
        self.upstream = upstream

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None, **overrides: Any
    ) -> NordicClient:
        http = http or httpx.AsyncClient(
            base_url=settings.nasdaq_nordic_base_url, timeout=settings.http_timeout_seconds
        )
        return cls(_upstream(http, "Nasdaq Nordic", settings, overrides))

    async def screener(self) -> list[nordic.ScreenerRow]:
        async def attempt() -> list[nordic.ScreenerRow]:
            payload = await self.upstream.get_json(nordic.SCREENER_PATH, nordic.screener_params())
            rows = nordic.parse_screener(payload)
            if not rows:
                raise _Empty("Nasdaq Nordic returned an empty share screener")
            return rows

        return await self.upstream.retrying("the Helsinki share screener", attempt)

    async def resolve(self, provider_symbol: str) -> nordic.ScreenerRow:
        """The screener row of `provider_symbol` ('NDA FI'); unknown → rejected."""
        for row in await self.screener():
            if row.symbol.upper() == provider_symbol.upper():
                return row
        raise ProviderRejectedError(
            f"Nasdaq Nordic rejected {provider_symbol}: not listed on the Helsinki main market"
        )

    async def bars(
        self, orderbook_id: str, first: date, last: date, *, expect_rows: bool
    ) -> list[StockBarV1]:
        path = nordic.chart_path(orderbook_id)
        params = nordic.chart_params(first, last)

        async def request() -> ParsedPage:
            payload = await self.upstream.get_json(path, params)
            return nordic.parse_chart(payload, orderbook_id)

        what = f"{orderbook_id} {first}..{last}"
        return await self.upstream.page(what, request, expect_rows=expect_rows)
