"""Unit tests of the answers made of stored bytes: the headers of each content coding,
and the compressed forms the cache stores decoding to the identity bytes."""

from __future__ import annotations

import json

import pytest

from ticktide_gateway.cache import MIN_CODED_BYTES, coded_forms, coded_response
from ticktide_gateway.content_coding import CODINGS, decode


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_a_coded_answer_names_its_coding_and_varies_by_accept_encoding(coding: str) -> None:
    response = coded_response(b"\x1f\x8b...", coding, cache_state="hit")
    assert response.headers["content-encoding"] == coding
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["x-cache"] == "hit"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(b"\x1f\x8b..."))
    assert response.body == b"\x1f\x8b..."


def test_an_identity_answer_has_no_content_encoding_but_still_varies() -> None:
    response = coded_response(b'{"a":1}', "identity", cache_state="miss")
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["x-cache"] == "miss"
    assert response.background is None


def test_every_stored_form_decodes_to_the_identity_bytes() -> None:
    bars = [{"date": f"2024-{m:02}-{d:02}", "c": d * 1.5} for m in (1, 2) for d in range(1, 29)]
    body = json.dumps({"prices": bars})
    identity = body.encode()
    assert len(identity) >= MIN_CODED_BYTES
    forms = coded_forms(identity)
    assert [coding for coding, _ in forms] == list(CODINGS)
    for coding, coded in forms:
        assert len(coded) < len(identity)
        assert decode(coded, coding) == identity
    assert coded_forms(identity) == forms  # deterministic: every process stores the same bytes
