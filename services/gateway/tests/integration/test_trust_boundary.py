"""The gateway's trust boundary (issue 10), against the real gateway process and
real HTTP stand-ins for the other services:

- X-Forwarded-For is believed only with the proxy secret: a direct caller on the
  gateway's port is its socket's address, whatever it writes;
- `..` / `%2e%2e` / encoded-slash paths are refused before forwarding (they
  reached auth's own /ready);
- a header value with trailing whitespace is forwarded trimmed (it made every
  /api/auth call 503), one with a control character is a 400 with a JSON detail;
- anonymous /api/health (through nginx, i.e. with the secret) is a cached summary
  without internals, one fan-out per cache period however many callers; admins
  and the operator on the gateway's port get the full report.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from ticktide_common.testing.processes import ServiceProcess
from ticktide_common.testing.proxy import TEST_PROXY_SECRET, trusted_hop
from ticktide_common.testing.users import bearer
from ticktide_gateway import forwarding

pytestmark = pytest.mark.integration

SECRET_HEADER = "x-ticktide-proxy-secret"


async def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange over a plain socket: bytes as given, which httpx
    would refuse to send (trailing whitespace, control characters, `%2e%2e`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", 0))), 10)
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


def _get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def test_spoofed_forwarded_for_on_the_gateway_port_is_not_believed(
    anonymous_api: httpx.AsyncClient,
) -> None:
    for spoofed in ("203.0.113.9", "198.51.100.7, 203.0.113.10"):
        echo = (
            await anonymous_api.get(
                "/api/auth/me",
                headers={
                    "X-Forwarded-For": spoofed,
                    "X-Forwarded-Proto": "https",
                    SECRET_HEADER: "a guess",
                },
            )
        ).json()
        sent = echo["headers"]
        # The gateway vouches for the address and scheme it saw: the socket's.
        assert sent["x-forwarded-for"] == "127.0.0.1", sent
        assert sent["x-forwarded-proto"] == "http"
        assert sent[SECRET_HEADER] == TEST_PROXY_SECRET


async def test_forwarded_for_with_the_secret_names_the_client(
    anonymous_api: httpx.AsyncClient,
) -> None:
    headers = {**trusted_hop("203.0.113.77"), "X-Forwarded-Proto": "https"}
    echo = (await anonymous_api.get("/api/auth/me", headers=headers)).json()
    assert echo["headers"]["x-forwarded-for"] == "203.0.113.77"
    assert echo["headers"]["x-forwarded-proto"] == "https"


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/%2e%2e/%2e%2e/ready",
        "/api/auth/%2E%2E/%2E%2E/metrics",
        "/api/auth/../../ready",
        "/api/auth/..%2f..%2fready",
        "/api/admin/users/%2e%2e/%2e%2e/%2e%2e/health",
        "/static/%2e%2e/%2e%2e/ready",
    ],
)
async def test_dot_segment_paths_are_refused_before_forwarding(
    gateway: ServiceProcess, path: str
) -> None:
    status, headers, body = await raw_request(gateway.port, _get(path))
    assert status == 404, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "Not Found"}


async def test_a_header_with_trailing_whitespace_is_forwarded_trimmed(
    gateway: ServiceProcess,
) -> None:
    status, _, body = await raw_request(
        gateway.port, _get("/api/auth/me", "User-Agent: Mozilla ", "Accept:  */*\t")
    )
    assert status == 200, body  # was 503 "the auth service is unavailable"
    sent = json.loads(body)["headers"]
    assert sent["user-agent"] == "Mozilla"
    assert sent["accept"] == "*/*"


async def test_a_header_with_a_control_character_is_a_400_not_a_503(
    gateway: ServiceProcess, stub_services: dict[str, Any]
) -> None:
    # uvicorn's httptools parser refuses most control characters itself (400, text).
    status, _, body = await raw_request(
        gateway.port, _get("/api/auth/me", "User-Agent: Mo\x01zilla")
    )
    assert status == 400, body
    # What a parser lets through (h11 takes \x01), the forwarder refuses: 400, JSON.
    app = FastAPI()

    @app.get("/api/auth/me")
    async def me(request: Request) -> Response:
        async with httpx.AsyncClient() as http:
            return await forwarding.forward(
                request, http, stub_services["auth"].url, service="auth", timeout=5.0
            )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        plain = await client.get("/api/auth/me", headers={"User-Agent": "Mozilla "})
        assert plain.status_code == 200 and plain.json()["headers"]["user-agent"] == "Mozilla"
        refused = await client.get("/api/auth/me", headers={"User-Agent": "Mo\x01zilla"})
    assert refused.status_code == 400, refused.text
    assert refused.json() == {"detail": "request header 'user-agent' has an invalid name or value"}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    return set()


async def test_anonymous_health_through_the_proxy_is_a_summary_without_internals(
    anonymous_api: httpx.AsyncClient, stub_services: dict[str, Any]
) -> None:
    response = await anonymous_api.get("/api/health", headers=trusted_hop("203.0.113.5"))
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["status"] == "ok"
    assert set(summary) == {"status", "services"}
    assert _keys(summary) <= {"status", "services", *summary["services"]}
    assert all(entry == {"status": "ok"} for entry in summary["services"].values())
    for stub in stub_services.values():
        assert str(stub.port) not in response.text


async def test_admins_and_the_operator_get_the_full_report(
    anonymous_api: httpx.AsyncClient, admin_token: str, user_token: str
) -> None:
    direct = (await anonymous_api.get("/api/health")).json()
    assert "url" in direct["services"]["writer"] and "dependencies" in direct
    admin = await anonymous_api.get(
        "/api/health", headers={**trusted_hop("203.0.113.6"), **bearer(admin_token)}
    )
    assert "url" in admin.json()["services"]["writer"]
    user = await anonymous_api.get(
        "/api/health", headers={**trusted_hop("203.0.113.6"), **bearer(user_token)}
    )
    assert set(user.json()) == {"status", "services"}


async def test_monitoring_endpoints_are_not_served_through_a_trusted_hop(
    anonymous_api: httpx.AsyncClient,
) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert (await anonymous_api.get(path)).status_code == 200
        through = await anonymous_api.get(path, headers=trusted_hop("203.0.113.8"))
        assert through.status_code == 404, (path, through.text)


async def test_many_anonymous_health_calls_share_one_fan_out(
    gateway: ServiceProcess, stub_services: dict[str, Any]
) -> None:
    writer = stub_services["writer"]
    calls, concurrency, cache_seconds = 300, 30, 5.0  # HEALTH_CACHE_SECONDS' default
    async with httpx.AsyncClient(
        base_url=gateway.url,
        timeout=30.0,
        headers=trusted_hop("203.0.113.4"),
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:
        await client.get("/api/health")  # a report in the cache
        before = len(writer.probes)
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def one() -> int:
            async with gate:
                started = time.perf_counter()
                response = await client.get("/api/health")
                latencies.append(time.perf_counter() - started)
                return response.status_code

        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(calls)))
        elapsed = time.perf_counter() - started
    assert statuses == [200] * calls
    # Each fan-out asks the writer for /health and /ready: at most one fan-out per
    # cache period (plus the one a period boundary may fall into), not 300.
    fan_outs = (len(writer.probes) - before) / 2
    assert fan_outs <= elapsed / cache_seconds + 1, (fan_outs, elapsed)
    # Was a median of 1.5 s (ten probes per call) on an idle machine; about 0.15 s
    # now, and generous for a loaded one (the suite shares its cores).
    assert statistics.median(latencies) < 1.0, statistics.median(latencies)
