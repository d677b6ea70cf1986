"""Outbound HTTP to NASDAQ (US) and Nasdaq Nordic (Helsinki).

Both providers sit behind a bot filter that wants a browser: every request
sends a browser User-Agent, Accept, Accept-Language, Origin and Referer.

Retries, backoff and the errors are `ticktide_common.upstream`'s. What is
particular here: an empty page for a window that has closed sessions
(`expect_rows`) or an empty share screener is an `UpstreamEmptyError`
("provider returned no rows for ..."), retried like a 5xx; an error status
block (unknown symbol) is an `UpstreamRejectedError` from the parsers, with the
provider's message. Rows the parsers refused are logged, never stored.
"""

from __future__ import annotations

from datetime import date

import httpx

from ticktide_common.logging import get_logger
from ticktide_common.messages import StockBarV1
from ticktide_common.settings import Settings
from ticktide_common.upstream import UpstreamClient, UpstreamEmptyError, UpstreamRejectedError
from ticktide_ingest_stocks import nasdaq, nordic
from ticktide_ingest_stocks.nasdaq import ParsedPage

__all__ = ["BROWSER_HEADERS", "NasdaqClient", "NordicClient"]

log = get_logger(__name__)

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


def _bars_of(
    parsed: ParsedPage, provider: str, what: str, *, expect_rows: bool
) -> list[StockBarV1]:
    """The page's bars; an empty page where sessions closed is retried as empty."""
    if parsed.refused:
        log.warning(
            "upstream.rows_refused",
            provider=provider,
            what=what,
            refused=parsed.refused[:10],
            count=len(parsed.refused),
        )
    if not parsed.bars and expect_rows:
        raise UpstreamEmptyError(f"provider returned no rows for {what}")
    return parsed.bars


def _http(settings: Settings, base_url: str, http: httpx.AsyncClient | None) -> httpx.AsyncClient:
    return http or httpx.AsyncClient(base_url=base_url, timeout=settings.http_timeout_seconds)


class NasdaqClient:
    """Daily bars of US stocks from NASDAQ's historical-quote API."""

    source = "nasdaq"
    provider = "NASDAQ"

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> NasdaqClient:
        http = _http(settings, settings.nasdaq_base_url, http)
        return cls(
            UpstreamClient.from_settings(
                settings, http, provider=cls.provider, headers=BROWSER_HEADERS
            )
        )

    async def bars(
        self, provider_symbol: str, first: date, last: date, *, expect_rows: bool
    ) -> list[StockBarV1]:
        """Bars of sessions `first`..`last` (inclusive), oldest first."""
        what = f"{provider_symbol} {first}..{last}"
        return await self.upstream.get(
            nasdaq.historical_path(provider_symbol),
            nasdaq.historical_params(first, last, limit=(last - first).days + 1),
            lambda payload: _bars_of(
                nasdaq.parse_historical(payload, provider_symbol),
                self.provider,
                what,
                expect_rows=expect_rows,
            ),
            what=what,
        )


class NordicClient:
    """Orderbook ids from the Helsinki share screener, daily bars from chart/download."""

    source = "nasdaq-nordic"
    provider = "Nasdaq Nordic"

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> NordicClient:
        http = _http(settings, settings.nasdaq_nordic_base_url, http)
        return cls(
            UpstreamClient.from_settings(
                settings, http, provider=cls.provider, headers=BROWSER_HEADERS
            )
        )

    async def screener(self) -> list[nordic.ScreenerRow]:
        def parse(payload: object) -> list[nordic.ScreenerRow]:
            rows = nordic.parse_screener(payload)
            if not rows:
                raise UpstreamEmptyError("Nasdaq Nordic returned an empty share screener")
            return rows

        return await self.upstream.get(
            nordic.SCREENER_PATH,
            nordic.screener_params(),
            parse,
            what="the Helsinki share screener",
        )

    async def resolve(self, provider_symbol: str) -> nordic.ScreenerRow:
        """The screener row of `provider_symbol` ('NDA FI'); unknown → rejected."""
        for row in await self.screener():
            if row.symbol.upper() == provider_symbol.upper():
                return row
        raise UpstreamRejectedError(
            self.provider, None, "not listed on the Helsinki main market", what=provider_symbol
        )

    async def bars(
        self, orderbook_id: str, first: date, last: date, *, expect_rows: bool
    ) -> list[StockBarV1]:
        what = f"{orderbook_id} {first}..{last}"
        return await self.upstream.get(
            nordic.chart_path(orderbook_id),
            nordic.chart_params(first, last),
            lambda payload: _bars_of(
                nordic.parse_chart(payload, orderbook_id),
                self.provider,
                what,
                expect_rows=expect_rows,
            ),
            what=what,
        )
