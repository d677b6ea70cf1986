"""Which coding a client is answered in, and that every stored form decodes to
the body itself."""

from __future__ import annotations

import random

import pytest

from ticktide_gateway.content_coding import choose_coding, decode, encode


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0, gzip;q=0", "identity"),
        ("deflate", "identity"),
        ("*", "br"),
        ("*;q=0.1, br;q=0", "gzip"),
        ("identity", "identity"),
        ("x-gzip", "gzip"),
        ("GZIP ; Q=0.9", "gzip"),
        ("gzip;q=nan, br;q=abc", "identity"),
        ("gzip;q=2", "gzip"),
        (",,, ;q=1", "identity"),
        ("br" + ", x" * 2000, "br"),
    ],
)
def test_the_coding_chosen_for_an_accept_encoding(header: str | None, chosen: str) -> None:
    assert choose_coding(header) == chosen


def test_only_offered_codings_are_chosen() -> None:
    assert choose_coding("br, gzip", offered=("gzip",)) == "gzip"
    assert choose_coding("br", offered=("gzip",)) == "identity"


@pytest.mark.parametrize("coding", ["identity", "gzip", "br"])
def test_each_form_decodes_to_the_same_bytes(coding: str) -> None:
    rng = random.Random(3)
    body = (
        b'{"candles":['
        + b",".join(b'{"t":%d,"c":%.2f}' % (i, rng.random() * 1e5) for i in range(5000))
        + b"]}"
    )
    encoded = encode(body, coding)
    assert decode(encoded, coding) == body
    assert encode(body, coding) == encoded  # deterministic
    if coding != "identity":
        assert len(encoded) < len(body) // 2
