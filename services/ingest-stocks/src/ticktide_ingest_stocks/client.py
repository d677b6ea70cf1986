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

from collections.abc import Callable
from datetime import date
from typing import ClassVar, Self

import httpx

from ticktide_common.logging import get_logger
from ticktide_common.messages import StockBarV1
from ticktide_common.upstream import UpstreamClient, UpstreamEmptyError, UpstreamRejectedError
from ticktide_ingest_stocks import nasdaq, nordic
from ticktide_ingest_stocks.nasdaq_format import ParsedPage
from ticktide_ingest_stocks.settings import IngestStocksSettings

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


class _NasdaqApi:
    """What both Nasdaq APIs share: browser headers, one `UpstreamClient`, and
    pages of bars where an empty page for closed sessions is retried as empty."""

    provider: ClassVar[str]

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    @classmethod
    def base_url(cls, settings: IngestStocksSettings) -> str:
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls, settings: IngestStocksSettings, http: httpx.AsyncClient | None = None
    ) -> Self:
        http = http or httpx.AsyncClient(
            base_url=cls.base_url(settings), timeout=settings.http_timeout_seconds
        )
        return cls(
            UpstreamClient.from_settings(
                settings, http, provider=cls.provider, headers=BROWSER_HEADERS
            )
        )

    async def _bars(
        self,
        path: str,
        params: dict[str, str],
        parse_page: Callable[[object], ParsedPage],
        what: str,
        *,
        expect_rows: bool,
    ) -> list[StockBarV1]:
        def parse(payload: object) -> list[StockBarV1]:
            parsed = parse_page(payload)
            if parsed.refused:
                log.warning(
                    "upstream.rows_refused",
                    provider=self.provider,
                    what=what,
                    refused=parsed.refused[:10],
                    count=len(parsed.refused),
                )
            if not parsed.bars and expect_rows:
                raise UpstreamEmptyError(f"provider returned no rows for {what}")
            return parsed.bars

        return await self.upstream.get(path, params, parse, what=what)


class NasdaqClient(_NasdaqApi):
    """Daily bars of US stocks from NASDAQ's historical-quote API."""

    source = "nasdaq"
    provider = "NASDAQ"

    @classmethod
    def base_url(cls, settings: IngestStocksSettings) -> str:
        return settings.nasdaq_base_url

    async def bars(
        self, provider_symbol: str, first: date, last: date, *, expect_rows: bool
    ) -> list[StockBarV1]:
        """Bars of sessions `first`..`last` (inclusive), oldest first."""
        return await self._bars(
            nasdaq.historical_path(provider_symbol),
            nasdaq.historical_params(first, last, limit=(last - first).days + 1),
            lambda payload: nasdaq.parse_historical(payload, provider_symbol),
            f"{provider_symbol} {first}..{last}",
            expect_rows=expect_rows,
        )


class NordicClient(_NasdaqApi):
    """Orderbook ids from the Helsinki share screener, daily bars from chart/download."""

    source = "nasdaq-nordic"
    provider = "Nasdaq Nordic"

    @classmethod
    def base_url(cls, settings: IngestStocksSettings) -> str:
        return settings.nasdaq_nordic_base_url

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
        return await self._bars(
            nordic.chart_path(orderbook_id),
            nordic.chart_params(first, last),
            lambda payload: nordic.parse_chart(payload, orderbook_id),
            f"{orderbook_id} {first}..{last}",
            expect_rows=expect_rows,
        )
