"""Which hop may say who the client is: the trust boundary between nginx, the
gateway, the web service and auth.

uvicorn's own proxy-header handling is off (`run_service`): it trusts an address
(127.0.0.1), and on one host every local program shares nginx's address. Instead a
hop that knows the client (nginx, the gateway's forwarder, the web service's API
client) sends the installation's secret, `TICKTIDE_PROXY_SECRET`, in
`X-Ticktide-Proxy-Secret` beside `X-Forwarded-For`. Only a request carrying that
secret (compared in constant time) has its client taken from `X-Forwarded-For`;
any other caller is the address of its socket, whatever headers it sends. The
secret header is removed from the request as soon as it is checked, so nothing
downstream can log or pass it on. An empty secret trusts nobody.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from ticktide_common.logging import get_logger

__all__ = [
    "PROXY_SECRET_HEADER",
    "VIA_TRUSTED_PROXY",
    "secret_matches",
    "forwarded_client",
    "client_address",
    "TrustedProxyMiddleware",
]

log = get_logger(__name__)

PROXY_SECRET_HEADER = "x-ticktide-proxy-secret"
# Set in the ASGI scope of a request that came through a trusted hop (nginx, web).
VIA_TRUSTED_PROXY = "ticktide.via_trusted_proxy"

_SECRET_NAME = PROXY_SECRET_HEADER.encode("latin-1")
_XFF_NAME = b"x-forwarded-for"
_PROTO_NAME = b"x-forwarded-proto"


def secret_matches(sent: str | bytes | None, secret: str) -> bool:
    """True when `sent` is the configured secret; never for an empty secret."""
    if not secret or sent is None:
        return False
    sent_bytes = sent.encode("latin-1", "replace") if isinstance(sent, str) else sent
    return hmac.compare_digest(sent_bytes, secret.encode("utf-8"))


def forwarded_client(x_forwarded_for: str | None) -> str | None:
    """The address the trusted hop appended: the last entry of `X-Forwarded-For`,
    when it is an IP address (normalised), else None."""
    if not x_forwarded_for:
        return None
    last = x_forwarded_for.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return None


def client_address(
    peer: str | None, x_forwarded_for: str | None, sent_secret: str | None, secret: str
) -> str | None:
    """The client of one request: `X-Forwarded-For` from a hop holding the secret,
    the socket's peer address otherwise."""
    if secret_matches(sent_secret, secret):
        forwarded = forwarded_client(x_forwarded_for)
        if forwarded is not None:
            return forwarded
        log.warning("proxy_trust.bad_forwarded_for", value=(x_forwarded_for or "")[:100])
    return peer


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class TrustedProxyMiddleware:
    """Sets the ASGI scope's client (and scheme) from the forwarded headers of a
    request that carries the proxy secret; strips the secret header from every
    request; marks trusted requests with `VIA_TRUSTED_PROXY`."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._resolve(scope)
        await self.app(scope, receive, send)

    def _resolve(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        sent = _header(headers, _SECRET_NAME)
        if sent is None:
            return scope
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in headers if k.lower() != _SECRET_NAME]
        if not secret_matches(sent, self.secret):
            client = scope.get("client")
            log.warning("proxy_trust.wrong_secret", peer=client[0] if client else None)
            return scope
        scope[VIA_TRUSTED_PROXY] = True
        xff = _header(headers, _XFF_NAME)
        forwarded = forwarded_client(xff.decode("latin-1") if xff is not None else None)
        if forwarded is not None:
            scope["client"] = (forwarded, 0)
        elif xff is not None:
            log.warning("proxy_trust.bad_forwarded_for", value=xff[:100].decode("latin-1"))
        proto = _header(headers, _PROTO_NAME)
        if proto in (b"http", b"https"):
            scope["scheme"] = proto.decode("latin-1")
        return scope
