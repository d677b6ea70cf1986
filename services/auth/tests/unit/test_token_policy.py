"""Pure: a personal API token's lifetime (the default when none is asked for,
refused outside 1..max_days)."""

from __future__ import annotations

import pytest

from ticktide_auth.service import TokenPolicy
from ticktide_common.accounts.policy import PolicyError


def test_the_default_lifetime_applies_when_none_is_asked_for() -> None:
    assert TokenPolicy().lifetime_days(None) == 90
    assert TokenPolicy(default_days=30).lifetime_days(None) == 30


@pytest.mark.parametrize("days", [1, 7, 365])
def test_a_lifetime_within_bounds_is_kept(days: int) -> None:
    assert TokenPolicy().lifetime_days(days) == days


@pytest.mark.parametrize("days", [0, -5, 366, 10**6])
def test_a_lifetime_out_of_bounds_is_refused_with_the_bounds(days: int) -> None:
    with pytest.raises(PolicyError, match="expires_in_days must be between 1 and 365"):
        TokenPolicy().lifetime_days(days)
