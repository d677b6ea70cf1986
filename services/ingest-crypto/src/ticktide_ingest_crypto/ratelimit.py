"""Request-weight bookkeeping for Binance (pure; the client does the sleeping).

Binance reports the weight used in the current UTC minute in the
`X-MBX-USED-WEIGHT-1M` header of every answer. Once that reaches
`limit × headroom`, the next request waits for the next minute boundary, when
the counter resets. `Retry-After` on 429/418 is read by
`ticktide_common.upstream.parse_retry_after`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["WeightBudget", "seconds_to_next_minute"]


def seconds_to_next_minute(now: float) -> float:
    """Seconds from the Unix time `now` to the next whole UTC minute (never 0)."""
    remainder = now % 60.0
    return 60.0 - remainder


@dataclass
class WeightBudget:
    """The last weight Binance reported, and when it was reported."""

    limit: int
    headroom: float = 0.8
    used: int = 0
    observed_at: float | None = field(default=None)

    @property
    def threshold(self) -> int:
        return max(1, int(self.limit * self.headroom))

    def observe(self, header: str | None, now: float) -> None:
        """Record the `X-MBX-USED-WEIGHT-1M` header of an answer received at `now`."""
        if header is None:
            return
        try:
            used = int(header.strip())
        except ValueError:
            return
        self.used = max(used, 0)
        self.observed_at = now

    def pause_before_request(self, now: float, request_weight: int = 2) -> float:
        """Seconds to wait before sending a request of `request_weight` at `now`."""
        if self.observed_at is None:
            return 0.0
        if int(now // 60) != int(self.observed_at // 60):
            return 0.0  # a new minute began since the last answer: the counter was reset
        if self.used + request_weight <= self.threshold:
            return 0.0
        return seconds_to_next_minute(now)
