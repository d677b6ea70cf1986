"""Weight budget and Retry-After parsing (the client's waiting decisions; the
parser is `ticktide_common.upstream`'s, the one every ingester uses)."""

from __future__ import annotations

import pytest

from ticktide_common.upstream import parse_retry_after
from ticktide_ingest_crypto.ratelimit import WeightBudget, seconds_to_next_minute

MINUTE_START = 1_700_000_040.0  # a whole UTC minute (divisible by 60)


def test_seconds_to_next_minute() -> None:
    assert MINUTE_START % 60 == 0
    assert seconds_to_next_minute(MINUTE_START + 45.5) == pytest.approx(14.5)
    assert seconds_to_next_minute(MINUTE_START) == 60.0


def test_no_pause_below_the_headroom() -> None:
    budget = WeightBudget(limit=6000, headroom=0.8)
    assert budget.pause_before_request(MINUTE_START) == 0.0  # nothing observed yet
    budget.observe("4798", MINUTE_START + 10)
    assert budget.pause_before_request(MINUTE_START + 11, request_weight=2) == 0.0


def test_pause_until_the_next_minute_near_the_limit() -> None:
    budget = WeightBudget(limit=6000, headroom=0.8)
    budget.observe("4799", MINUTE_START + 10)
    assert budget.pause_before_request(MINUTE_START + 20, request_weight=2) == pytest.approx(40)


def test_a_new_minute_resets_the_budget() -> None:
    budget = WeightBudget(limit=100, headroom=0.5)
    budget.observe("99", MINUTE_START + 59)
    assert budget.pause_before_request(MINUTE_START + 61) == 0.0


def test_odd_headers_are_ignored() -> None:
    budget = WeightBudget(limit=100)
    budget.observe("lots", MINUTE_START)
    budget.observe(None, MINUTE_START)
    assert budget.used == 0 and budget.observed_at is None


@pytest.mark.parametrize(
    "header, seconds",
    [("3", 3.0), (" 0.5 ", 0.5), (None, 1.0), ("soon", 1.0), ("-4", 1.0), ("nan", 1.0)],
)
def test_retry_after(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header) == seconds
