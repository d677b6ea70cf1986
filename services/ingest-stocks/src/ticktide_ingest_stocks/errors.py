"""The errors of ingest-stocks' upstream access (pure: no I/O here).

Transient ones (`UpstreamUnavailableError`, `UpstreamEmptyError`) are what the
simulated fallback may stand in for; permanent ones fail the job with the
provider's own words and nothing from that answer is ever published.
"""

from __future__ import annotations

from ticktide_common.errors import PermanentError, TransientError

__all__ = [
    "ProviderRejectedError",
    "UpstreamEmptyError",
    "UpstreamFormatError",
    "UpstreamUnavailableError",
]


class UpstreamUnavailableError(TransientError):
    """The provider kept failing (5xx, timeouts, connection errors) after every retry."""


class UpstreamEmptyError(UpstreamUnavailableError):
    """The provider kept answering no rows for a range that has closed sessions."""


class ProviderRejectedError(PermanentError):
    """The provider answered with an error status block (unknown symbol, bad range)."""


class UpstreamFormatError(PermanentError):
    """The provider's answer is not in the format we know, even after retries."""
