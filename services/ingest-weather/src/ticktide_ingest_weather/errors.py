"""What can go wrong with a weather provider, as typed errors.

Parsers (pure) raise `UpstreamFormatError` / `UpstreamEmptyError` /
`UpstreamRejectedError`; the clients retry the first two (and 5xx, 429,
timeouts, refused connections) with backoff, then raise
`UpstreamUnavailableError` (unreachable, 5xx or empty: the simulated fallback
may take over), `UpstreamThrottledError` or `UpstreamFormatError`. An error body
(Open-Meteo's 400 `reason`, OpenWeather's 401 bad key) is an
`UpstreamRejectedError`, permanent: the job fails with the provider's words.
"""

from __future__ import annotations

from ticktide_common.errors import PermanentError, TransientError

__all__ = [
    "UpstreamEmptyError",
    "UpstreamFormatError",
    "UpstreamRejectedError",
    "UpstreamThrottledError",
    "UpstreamUnavailableError",
]


class UpstreamFormatError(TransientError):
    """The provider answered something that is not its documented format."""


class UpstreamEmptyError(UpstreamFormatError):
    """The provider answered without the observations that were asked for."""


class UpstreamUnavailableError(TransientError):
    """The provider stayed unreachable (connection, timeout, 5xx, empty) after retries."""


class UpstreamThrottledError(TransientError):
    """The provider kept answering 429 after every wait."""


class UpstreamRejectedError(PermanentError):
    """The provider refused the request with a reason; retrying cannot help."""

    def __init__(self, provider: str, status: int, reason: str) -> None:
        super().__init__(f"{provider} rejected the request ({status}): {reason}")
        self.provider = provider
        self.status = status
        self.reason = reason
