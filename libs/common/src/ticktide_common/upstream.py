"""The one retry policy for GETting JSON from an upstream data provider, and its
typed errors (used by ingest-stocks and ingest-weather; ingest-crypto keeps its
own client for Binance's weight budget, but reads `Retry-After` with
`parse_retry_after` from here too).

`UpstreamClient.get(url, params, parse, what=...)` asks once and hands the
decoded JSON to `parse`. A try that may pass another time is retried with
exponential backoff (tenacity; `backoff_seconds × 2^n`, at most
`max_backoff_seconds`, `max_attempts` tries in all):

- connection errors and timeouts, 5xx and 408 → `UpstreamUnavailableError`;
- 429 → `UpstreamThrottledError`, and the next try waits at least its
  `Retry-After` (`parse_retry_after`, capped at `max_retry_after_seconds`);
- an answer that is not JSON, or that `parse` refuses with `UpstreamFormatError`
  or a `ValueError` → `UpstreamFormatError`;
- `parse` raising `UpstreamEmptyError` (no rows where rows must be).

When every try failed, the last error is raised again with the count of tries.
Any other 4xx is an `UpstreamRejectedError` at once, with the reason the
provider gave (`reason_of(status, body)` picks it out of the error body); so is
a `UpstreamRejectedError` that `parse` raises (an error block in a 200 answer).
Nothing of a failed answer is ever returned.

Which errors the simulated fallback may stand in for: `UpstreamUnavailableError`
(and its `UpstreamEmptyError`) only. Throttling means the provider is up and
will answer later (redelivery retries the job); a format error means the
provider changed and must be seen; a rejection is the provider's final word.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ticktide_common.errors import PermanentError, TicktideError, TransientError
from ticktide_common.logging import get_logger
from ticktide_common.settings import UpstreamHttpSettings

__all__ = [
    "Params",
    "ReasonOf",
    "Sleep",
    "UpstreamClient",
    "UpstreamEmptyError",
    "UpstreamError",
    "UpstreamFormatError",
    "UpstreamRejectedError",
    "UpstreamThrottledError",
    "UpstreamUnavailableError",
    "DEFAULT_RETRY_AFTER_SECONDS",
    "parse_retry_after",
]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Params = Mapping[str, str | int | float] | None
ReasonOf = Callable[[int, Any], str | None]
"""(HTTP status, the error body as JSON or None) → the provider's reason, if it gave one."""

log = get_logger(__name__)


class UpstreamError(TicktideError):
    """Base of every error about an upstream provider's answer."""


class UpstreamUnavailableError(UpstreamError, TransientError):
    """The provider stayed unreachable (connection, timeout, 5xx) after every try;
    the simulated fallback may stand in."""


class UpstreamEmptyError(UpstreamUnavailableError):
    """The provider kept answering no rows where rows must exist."""


class UpstreamThrottledError(UpstreamError, TransientError):
    """The provider kept answering 429. Transient but not "unavailable": the
    provider is up and will answer later, so no simulated rows stand in."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFormatError(UpstreamError, PermanentError):
    """The answer is not in the provider's documented format. Retried like a
    transient error (a truncated body passes), but permanent once the tries are
    used up: a changed format does not fix itself, and the fallback must not
    hide it behind simulated rows."""


class UpstreamRejectedError(UpstreamError, PermanentError):
    """The provider refused the request with a reason (unknown symbol, bad key,
    date out of range); retrying cannot help."""

    def __init__(
        self, provider: str, status: int | None, reason: str, *, what: str = "the request"
    ) -> None:
        shown = f" ({status})" if status is not None else ""
        super().__init__(f"{provider} rejected {what}{shown}: {reason}")
        self.provider = provider
        self.status = status
        self.reason = reason


_RETRIED = (UpstreamUnavailableError, UpstreamThrottledError, UpstreamFormatError)


# What a throttling answer without a usable Retry-After means: wait this long.
DEFAULT_RETRY_AFTER_SECONDS = 1.0


def parse_retry_after(
    value: str | None, cap: float | None = None, default: float = DEFAULT_RETRY_AFTER_SECONDS
) -> float:
    """`Retry-After` in seconds (at most `cap`, when given). A missing, negative,
    non-finite or non-numeric value (an HTTP date, say) means `default`,
    `DEFAULT_RETRY_AFTER_SECONDS` unless the caller says otherwise."""
    if value is None:
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        return default
    if not math.isfinite(seconds) or seconds < 0:
        return default
    return seconds if cap is None else min(seconds, cap)


def _gave_up(error: Exception, provider: str, tries: int) -> Exception:
    """The last try's error, again, saying how many tries were made."""
    if isinstance(error, UpstreamEmptyError):
        return UpstreamEmptyError(f"{provider} answered empty {tries} times: {error}")
    if isinstance(error, UpstreamThrottledError):
        return UpstreamThrottledError(f"{provider} kept answering 429 ({tries} times)")
    if isinstance(error, UpstreamFormatError):
        return UpstreamFormatError(f"{error} ({tries} tries)")
    return UpstreamUnavailableError(f"{error} ({tries} tries)")


class UpstreamClient:
    """GET + parse from one provider with the retry policy of the module docstring."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: str,
        headers: Mapping[str, str] | None = None,
        reason_of: ReasonOf | None = None,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        max_retry_after_seconds: float = 120.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http = http
        self.provider = provider
        self.headers = dict(headers or {})
        self.reason_of = reason_of
        self.max_attempts = max(1, max_attempts)
        self.max_retry_after_seconds = max_retry_after_seconds
        self.sleep = sleep
        self._backoff = wait_exponential(multiplier=backoff_seconds, max=max_backoff_seconds)

    @classmethod
    def from_settings(
        cls,
        settings: UpstreamHttpSettings,
        http: httpx.AsyncClient,
        *,
        provider: str,
        headers: Mapping[str, str] | None = None,
        reason_of: ReasonOf | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> UpstreamClient:
        """`http_max_attempts` tries, the first wait `http_backoff_seconds`."""
        return cls(
            http,
            provider=provider,
            headers=headers,
            reason_of=reason_of,
            max_attempts=settings.http_max_attempts,
            backoff_seconds=settings.http_backoff_seconds,
            sleep=sleep,
        )

    async def get(self, url: str, params: Params, parse: Callable[[Any], T], *, what: str) -> T:
        """`parse(JSON body)` of the first good answer; raises as the module docstring says."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RETRIED),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._try_once(url, params, parse, what)
        except _RETRIED as exc:
            raise _gave_up(exc, self.provider, self.max_attempts) from exc
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises

    async def _try_once(self, url: str, params: Params, parse: Callable[[Any], T], what: str) -> T:
        try:
            response = await self.http.get(url, params=params, headers=self.headers)
        except httpx.TransportError as exc:
            target = self.http.base_url.join(url)
            raise UpstreamUnavailableError(
                f"{self.provider} unreachable at {target}: {exc!r:.200}"
            ) from exc
        status = response.status_code
        if status >= 500 or status == 408:
            raise UpstreamUnavailableError(
                f"{self.provider} answered {status}: {response.text!r:.200}"
            )
        if status == 429:
            header = response.headers.get("Retry-After")
            raise UpstreamThrottledError(
                f"{self.provider} answered 429 (Retry-After {header!r})",
                retry_after=parse_retry_after(header, self.max_retry_after_seconds),
            )
        if status >= 400:
            raise self._rejection(response, what)
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamFormatError(
                f"{self.provider} answered non-JSON: {response.text!r:.200}"
            ) from exc
        try:
            return parse(body)
        except ValueError as exc:  # e.g. a value out of a model's range
            raise UpstreamFormatError(
                f"{self.provider} answered malformed data: {exc!s:.200}"
            ) from exc

    def _wait(self, state: RetryCallState) -> float:
        delay = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, UpstreamThrottledError) and error.retry_after is not None:
            return max(delay, error.retry_after)
        return delay

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "upstream.retry",
            provider=self.provider,
            what=what,
            attempt=state.attempt_number,
            wait=round(state.next_action.sleep, 3) if state.next_action else None,
            error=str(error)[:300],
        )

    def _rejection(self, response: httpx.Response, what: str) -> UpstreamRejectedError:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        reason = self.reason_of(response.status_code, body) if self.reason_of else None
        return UpstreamRejectedError(
            self.provider, response.status_code, reason or response.text[:300], what=what
        )
