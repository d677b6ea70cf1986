"""Unit tests of the per-user and global caps on concurrent streams and runs."""

from __future__ import annotations

import pytest

from ticktide_gateway.backtests.stream_limits import ConcurrencyLimit, LimitReached


def test_a_user_gets_at_most_their_share_and_others_still_get_theirs() -> None:
    limit = ConcurrencyLimit("event streams", per_user=2, total=10)
    leases = [limit.acquire(1), limit.acquire(1)]
    with pytest.raises(LimitReached) as refused:
        limit.acquire(1)
    assert refused.value.scope == "user"
    assert "at most 2 per user" in str(refused.value)
    assert limit.acquire(2).held
    assert limit.active == 3 and limit.active_for(1) == 2
    leases[0].release()
    assert limit.acquire(1).held  # a released slot is free again


def test_the_global_cap_holds_across_users() -> None:
    limit = ConcurrencyLimit("awaited runs", per_user=5, total=3)
    for user in (1, 2, 3):
        limit.acquire(user)
    with pytest.raises(LimitReached) as refused:
        limit.acquire(4)
    assert refused.value.scope == "global"
    assert "whole gateway" in str(refused.value)


def test_the_users_own_cap_is_named_before_the_global_one() -> None:
    limit = ConcurrencyLimit("event streams", per_user=1, total=1)
    limit.acquire(1)
    with pytest.raises(LimitReached) as refused:
        limit.acquire(1)
    assert refused.value.scope == "user"


def test_release_is_idempotent_and_counts_return_to_zero() -> None:
    limit = ConcurrencyLimit("event streams", per_user=3, total=3)
    lease = limit.acquire(7)
    other = limit.acquire(7)
    for _ in range(3):
        lease.release()  # every exit path may call it
    assert limit.active == 1 and limit.active_for(7) == 1
    other.release()
    assert limit.active == 0 and limit.active_for(7) == 0
    assert not lease.held and not other.held
    assert [limit.acquire(7).held for _ in range(3)] == [True] * 3


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimit("event streams", per_user=0, total=5)
