"""The proxy secret of test runs, and the headers of a trusted hop: a test that
plays nginx or the gateway (naming the client in X-Forwarded-For) sends these;
one that plays a direct caller on the host sends X-Forwarded-For alone."""

from __future__ import annotations

from ticktide_common.proxy_trust import PROXY_SECRET_HEADER

__all__ = ["TEST_PROXY_SECRET", "trusted_hop"]

TEST_PROXY_SECRET = "test-proxy-secret-0123456789abcdef"


def trusted_hop(client_ip: str, secret: str = TEST_PROXY_SECRET) -> dict[str, str]:
    """Headers of a request forwarded for `client_ip` by a hop holding `secret`."""
    return {"X-Forwarded-For": client_ip, PROXY_SECRET_HEADER: secret}
