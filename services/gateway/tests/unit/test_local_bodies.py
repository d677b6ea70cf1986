"""Unit tests of the in-process body LRU: bounded by bytes, least recently used out."""

from __future__ import annotations

from ticktide_gateway.cache import LocalBodies, prices_key


def test_evicts_least_recently_used_beyond_budget() -> None:
    bodies = LocalBodies(max_bytes=100)
    bodies.put("a", b"x" * 20)
    bodies.put("b", b"x" * 20)
    bodies.put("c", b"x" * 20)
    assert bodies.get("a") is not None  # now most recent
    bodies.put("d", b"x" * 20)
    bodies.put("e", b"x" * 25)  # 105 bytes: the least recently used ("b") goes
    assert bodies.get("b") is None
    assert [bodies.get(k) is not None for k in "acde"] == [True, True, True, True]


def test_bodies_larger_than_a_quarter_of_the_budget_are_not_kept() -> None:
    bodies = LocalBodies(max_bytes=100)
    bodies.put("big", b"x" * 26)
    assert bodies.get("big") is None


def test_prices_key_carries_version_and_every_parameter() -> None:
    key = prices_key("p:", "BTCUSDT", "1h", 3, None, None, 10)
    assert key == "p:gateway:prices:BTCUSDT:1h:v3:-:-:10"
    assert key != prices_key("p:", "BTCUSDT", "1h", 4, None, None, 10)
