"""The Binance REST client: `GET /api/v3/klines`, paged by `startTime`.

- Weight: every answer's `X-MBX-USED-WEIGHT-1M` is recorded; near the limit
  (`binance_weight_limit_1m × binance_weight_headroom`) the next request waits
  for the next minute boundary.
- 429 and 418 are honoured: sleep `Retry-After` seconds (no cap; absent or
  unusable: `ticktide_common.upstream`'s default, 1 s), then ask again.
- 5xx answers and connection errors are retried with exponential backoff
  (tenacity, bounded); when they persist, `BinanceServerError` or
  `BinanceUnavailableError` (both transient) is raised.
- Any other 4xx is a `BinanceRejectedError` (permanent) carrying Binance's
  `code` and `msg`, e.g. -1121 "Invalid symbol.".

Clock and sleep are injectable, so the waiting logic tests without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ticktide_common.errors import PermanentError, TransientError
from ticktide_common.logging import get_logger
from ticktide_common.messages import CandleV1
from ticktide_common.upstream import parse_retry_after
from ticktide_ingest_crypto.binance import KlineFormatError, parse_klines
from ticktide_ingest_crypto.gaps import align_up, datetime_to_ms, interval_ms
from ticktide_ingest_crypto.ratelimit import WeightBudget
from ticktide_ingest_crypto.settings import IngestCryptoSettings

__all__ = [
    "BinanceClient",
    "BinanceRejectedError",
    "BinanceServerError",
    "BinanceUnavailableError",
    "KLINES_PATH",
    "MAX_LIMIT",
]

KLINES_PATH = "/api/v3/klines"
MAX_LIMIT = 1000
KLINES_WEIGHT = 2
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"

log = get_logger(__name__)


class BinanceRejectedError(PermanentError):
    """Binance refused the request (4xx other than 429/418); retrying cannot help."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"Binance rejected the request ({status}, code {code}): {message}")
        self.status = status
        self.code = code
        self.binance_message = message


class BinanceServerError(TransientError):
    """Binance kept answering 5xx (or rate-limiting) after every retry."""


class BinanceUnavailableError(TransientError):
    """Binance could not be reached (DNS, refused connection, timeouts)."""


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class BinanceClient:
    """Klines from Binance's REST API over one shared `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        weight_limit: int = 6000,
        headroom: float = 0.8,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_rate_limit_waits: int = 10,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.budget = WeightBudget(limit=weight_limit, headroom=headroom)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_rate_limit_waits = max_rate_limit_waits
        self.clock = clock
        self.sleep = sleep
        # A 429/418 is about this host's IP, not one request: every request of
        # this client waits until Retry-After has passed.
        self._blocked_until = 0.0

    @classmethod
    def from_settings(
        cls, settings: IngestCryptoSettings, http: httpx.AsyncClient | None = None, **overrides: Any
    ) -> BinanceClient:
        http = http or httpx.AsyncClient(
            base_url=settings.binance_base_url, timeout=settings.binance_timeout_seconds
        )
        options: dict[str, Any] = {
            "weight_limit": settings.binance_weight_limit_1m,
            "headroom": settings.binance_weight_headroom,
            "max_attempts": settings.binance_max_attempts,
            "backoff_seconds": settings.binance_backoff_seconds,
            "max_rate_limit_waits": settings.binance_max_rate_limit_waits,
        }
        return cls(http, **{**options, **overrides})

    async def klines_page(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int = MAX_LIMIT
    ) -> list[CandleV1]:
        """One request: bars with open time in `[start_ms, end_ms]` (Binance's
        `endTime` is inclusive), at most `limit`, oldest first."""
        params = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": min(limit, MAX_LIMIT),
        }
        payload = await self._get_json(KLINES_PATH, params)
        return parse_klines(payload)

    async def iter_klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int = MAX_LIMIT
    ) -> AsyncIterator[list[CandleV1]]:
        """Pages of bars with open time in `[start_ms, end_ms)`, oldest first; the
        next page starts one interval after the last bar received."""
        size = interval_ms(interval)
        cursor = align_up(start_ms, interval)
        while cursor < end_ms:
            received = await self.klines_page(symbol, interval, cursor, end_ms - 1, limit)
            if not received:
                return
            page = [c for c in received if cursor <= datetime_to_ms(c.t) < end_ms]
            if page:
                yield page
            last_ms = datetime_to_ms(received[-1].t)
            if len(received) < min(limit, MAX_LIMIT) or last_ms + size <= cursor:
                return
            cursor = last_ms + size

    async def _get_json(self, path: str, params: dict[str, Any]) -> object:
        rate_limit_waits = 0
        while True:
            response = await self._send_with_retries(path, params)
            if response.status_code in (429, 418):
                rate_limit_waits += 1
                if rate_limit_waits > self.max_rate_limit_waits:
                    raise BinanceServerError(
                        f"Binance kept rate-limiting ({response.status_code}) after "
                        f"{self.max_rate_limit_waits} waits"
                    )
                delay = parse_retry_after(response.headers.get("Retry-After"))
                log.warning("binance.rate_limited", status=response.status_code, retry_after=delay)
                self._blocked_until = max(self._blocked_until, self.clock() + delay)
                continue
            if response.status_code >= 400:
                raise _rejection(response)
            try:
                return response.json()
            except ValueError as exc:
                raise KlineFormatError(
                    f"Binance answered non-JSON: {response.text!r:.200}"
                ) from exc

    async def _respect_weight(self) -> None:
        blocked = self._blocked_until - self.clock()
        if blocked > 0:
            await self.sleep(blocked)
        pause = self.budget.pause_before_request(self.clock(), KLINES_WEIGHT)
        if pause > 0:
            log.info(
                "binance.weight_pause",
                used=self.budget.used,
                threshold=self.budget.threshold,
                seconds=round(pause, 3),
            )
            await self.sleep(pause)

    async def _send_with_retries(self, path: str, params: dict[str, Any]) -> httpx.Response:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
                wait=wait_exponential(multiplier=self.backoff_seconds, max=30.0),
                stop=stop_after_attempt(self.max_attempts),
                sleep=self.sleep,
                reraise=True,
                before_sleep=_log_retry,
            ):
                with attempt:
                    await self._respect_weight()
                    response = await self.http.get(path, params=params)
                    self.budget.observe(response.headers.get(WEIGHT_HEADER), self.clock())
                    if response.status_code >= 500:
                        raise _RetryableStatus(response)
                    return response
        except _RetryableStatus as exc:
            raise BinanceServerError(
                f"Binance answered {exc.response.status_code} {self.max_attempts} times: "
                f"{exc.response.text!r:.200}"
            ) from None
        except httpx.TransportError as exc:
            raise BinanceUnavailableError(
                f"Binance unreachable at {self.http.base_url} after {self.max_attempts} "
                f"attempts: {exc!r}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises


def _rejection(response: httpx.Response) -> BinanceRejectedError:
    code: int | None = None
    message = response.text[:300]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = str(body.get("msg", message))
    return BinanceRejectedError(response.status_code, code, message)


def _log_retry(state: Any) -> None:
    outcome = state.outcome.exception() if state.outcome else None
    log.warning("binance.retry", attempt=state.attempt_number, error=repr(outcome)[:200])
