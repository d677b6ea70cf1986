"""Who the client is: X-Forwarded-For only with the proxy secret (issue 10: the
gateway and auth believed it from 127.0.0.1, where every local program is)."""

from __future__ import annotations

from typing import Any

import pytest

from ticktide_common.proxy_trust import (
    VIA_TRUSTED_PROXY,
    TrustedProxyMiddleware,
    client_address,
    forwarded_client,
    secret_matches,
)
from ticktide_common.service import run_service

SECRET = "s3cret-s3cret-s3cret"


def test_secret_matches_only_the_configured_nonempty_secret() -> None:
    assert secret_matches(SECRET, SECRET)
    assert secret_matches(SECRET.encode(), SECRET)
    assert not secret_matches(SECRET + "x", SECRET)
    assert not secret_matches(None, SECRET)
    assert not secret_matches("", "")  # an empty secret trusts nobody
    assert not secret_matches("anything", "")


def test_forwarded_client_is_the_last_entry_when_it_is_an_address() -> None:
    assert forwarded_client("203.0.113.9") == "203.0.113.9"
    assert forwarded_client("198.51.100.1, 203.0.113.9") == "203.0.113.9"
    assert forwarded_client(" 2001:DB8::1 ") == "2001:db8::1"
    assert forwarded_client("not-an-ip") is None
    assert forwarded_client("") is None
    assert forwarded_client(None) is None


def test_client_address_believes_the_header_only_with_the_secret() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", SECRET, SECRET) == "203.0.113.9"
    assert client_address("127.0.0.1", "203.0.113.9", None, SECRET) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.9", "guess", SECRET) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.9", "", "") == "127.0.0.1"
    assert client_address("127.0.0.1", "garbage", SECRET, SECRET) == "127.0.0.1"


async def _scope_after(headers: list[tuple[bytes, bytes]], secret: str = SECRET) -> Any:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": "http",
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "headers": headers,
    }
    await TrustedProxyMiddleware(app, secret)(scope, None, None)  # type: ignore[arg-type]
    return seen


async def test_middleware_sets_client_and_scheme_of_a_trusted_hop_and_strips_the_secret() -> None:
    scope = await _scope_after(
        [
            (b"x-forwarded-for", b"203.0.113.9"),
            (b"x-forwarded-proto", b"https"),
            (b"X-Ticktide-Proxy-Secret", SECRET.encode()),
            (b"user-agent", b"t"),
        ]
    )
    assert scope["client"] == ("203.0.113.9", 0)
    assert scope["scheme"] == "https"
    assert scope[VIA_TRUSTED_PROXY] is True
    assert [name for name, _ in scope["headers"]] == [
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"user-agent",
    ]


async def test_middleware_keeps_the_socket_address_of_anyone_else() -> None:
    spoofed = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https")]
    plain = await _scope_after(spoofed)
    assert plain["client"] == ("127.0.0.1", 50000) and plain["scheme"] == "http"
    assert VIA_TRUSTED_PROXY not in plain
    wrong = await _scope_after([*spoofed, (b"x-ticktide-proxy-secret", b"guess")])
    assert wrong["client"] == ("127.0.0.1", 50000)
    assert all(name != b"x-ticktide-proxy-secret" for name, _ in wrong["headers"])
    unset = await _scope_after([*spoofed, (b"x-ticktide-proxy-secret", b"")], secret="")
    assert unset["client"] == ("127.0.0.1", 50000)


def test_run_service_turns_uvicorns_proxy_headers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: captured.update(kwargs))
    monkeypatch.setattr("ticktide_common.service.configure_logging", lambda *args: None)
    run_service(object(), service="t", host="127.0.0.1", port=1, log_level="INFO")  # type: ignore[arg-type]
    assert captured["proxy_headers"] is False
