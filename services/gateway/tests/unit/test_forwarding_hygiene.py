"""What the forwarder refuses or repairs before it connects (issue 10): `..` and
encoded-slash paths (they reached auth's own /ready), header values with
surrounding whitespace (they made every /api/auth call answer 503) or control
characters."""

from __future__ import annotations

import pytest

from ticktide_gateway.forwarding import (
    UnforwardableHeader,
    is_forwardable_path,
    normalised_headers,
)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/auth/../../ready", b"/api/auth/%2e%2e/%2e%2e/ready"),
        ("/api/auth/../../ready", b"/api/auth/../../ready"),
        ("/api/auth/./me", b"/api/auth/%2E/me"),
        ("/api/auth/x/..", b"/api/auth/x/.."),
        ("/api/auth/a/b", b"/api/auth/a%2fb"),
        ("/api/auth/a/b", b"/api/auth/a%2Fb"),
        ("/api/auth/a\\b", b"/api/auth/a%5cb"),
        ("/api/auth/a\x00", b"/api/auth/a%00"),
        ("/static/..\\x", b"/static/..\\x"),
    ],
)
def test_paths_that_normalise_elsewhere_are_refused(path: str, raw: bytes) -> None:
    assert not is_forwardable_path(path, raw)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/auth/me", b"/api/auth/me"),
        ("/api/auth/tokens/12", b"/api/auth/tokens/12"),
        ("/static/app.1a2b.js", b"/static/app.1a2b.js"),
        ("/crypto/a b", b"/crypto/a%20b"),
        ("/backtests/...x", b"/backtests/...x"),
        ("/", b"/"),
    ],
)
def test_ordinary_paths_pass(path: str, raw: bytes) -> None:
    assert is_forwardable_path(path, raw)


def test_values_lose_surrounding_whitespace_and_dropped_names_are_left_out() -> None:
    headers = normalised_headers(
        [
            (b"user-agent", b"Mozilla "),
            (b"accept", b"\t application/json\t"),
            (b"x-inner", b"a  b\tc"),
            (b"host", b"example"),
            (b"x-latin", "caf\xe9".encode("latin-1")),
        ],
        frozenset({"host"}),
    )
    assert headers == [
        (b"user-agent", b"Mozilla"),
        (b"accept", b"application/json"),
        (b"x-inner", b"a  b\tc"),
        (b"x-latin", b"caf\xe9"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"user-agent", b"Mo\x01zilla"),
        (b"user-agent", b"a\x7fb"),
        (b"x-test", b"a\nb"),
        (b"x-test", b"a\rb"),
        (b"x-test", b"a\x0bb"),
        (b"bad name", b"x"),
        (b"bad:name", b"x"),
    ],
)
def test_control_characters_and_bad_names_are_unforwardable(name: bytes, value: bytes) -> None:
    with pytest.raises(UnforwardableHeader):
        normalised_headers([(name, value)], frozenset())
