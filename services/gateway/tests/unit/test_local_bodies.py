"""Unit tests of the in-process body LRU (one entry per key and content coding, bounded
by bytes, least recently used out) and of the keys bodies are stored under."""

from __future__ import annotations

from ticktide_gateway.cache import LocalBodies, coded_key, prices_key


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


def test_each_coding_of_a_key_is_its_own_entry() -> None:
    bodies = LocalBodies(max_bytes=1000)
    bodies.put("k", b"identity")
    bodies.put("k", b"gz", "gzip")
    bodies.put("k", b"b", "br")
    assert [bodies.get("k"), bodies.get("k", "gzip"), bodies.get("k", "br")] == [
        b"identity",
        b"gz",
        b"b",
    ]
    assert bodies.get("k", "zstd") is None
    assert bodies.get("other", "gzip") is None


def test_every_coded_form_counts_against_the_byte_budget() -> None:
    bodies = LocalBodies(max_bytes=100)
    bodies.put("a", b"x" * 25)
    bodies.put("a", b"x" * 25, "gzip")
    bodies.put("a", b"x" * 25, "br")
    bodies.put("b", b"x" * 25)  # 100 bytes: all kept
    assert bodies.get("a") is not None
    bodies.put("b", b"x" * 10, "gzip")  # 110: the least recently used form goes
    assert bodies.get("a", "gzip") is None
    kept = [("a", "identity"), ("a", "br"), ("b", "identity"), ("b", "gzip")]
    assert all(bodies.get(key, coding) is not None for key, coding in kept)
    bodies.put("b", b"x" * 5)  # replacing a form frees its old bytes: 65 of 100 now
    bodies.put("c", b"x" * 25, "br")  # 90: nothing goes
    assert bodies.get("b") == b"x" * 5
    assert all(bodies.get(key, coding) is not None for key, coding in kept)


def test_coded_forms_live_beside_the_identity_key() -> None:
    key = prices_key("p:", "BTCUSDT", "1h", 3, None, None, 10)
    assert coded_key(key, "identity") == key
    assert coded_key(key, "gzip") == key + "|gzip"
    assert coded_key(key, "br") == key + "|br"
