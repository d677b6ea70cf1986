"""Auth believes X-Forwarded-For only from the gateway (issue 10): the gateway's
forwarder sends the proxy secret with it; a direct caller on auth's port, whatever
address it writes, is throttled and logged as its socket's address."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, AuthServer, unique_name
from ticktide_common.sessions import hash_secret

pytestmark = pytest.mark.integration


def loopback_peer() -> str:
    """A loopback address of this test's own: a lock on it touches nobody else."""
    return f"127.{random.randrange(1, 255)}.{random.randrange(256)}.{random.randrange(2, 255)}"


async def _logged_ips(pool: asyncpg.Pool, names: list[str]) -> set[str]:
    rows = await pool.fetch(
        "SELECT host(ip_address) AS ip FROM security_events"
        " WHERE details->>'username_tried' = ANY($1::text[])",
        names,
    )
    return {row["ip"] for row in rows}


@pytest.fixture
async def fresh_local_ip_throttle(
    settings: AuthSettings, redis_client: Redis
) -> AsyncIterator[None]:
    """127.0.0.1's per-IP login counters, emptied before and after: a direct caller
    on the host connects from there (so does nginx), and other tests of the run
    log in from there too."""
    ip_key = f"{settings.ticktide_redis_prefix}login:ip:{hash_secret('127.0.0.1')}"
    await redis_client.delete(ip_key, f"{ip_key}:locked")
    yield
    await redis_client.delete(ip_key, f"{ip_key}:locked")


@pytest.mark.usefixtures("fresh_local_ip_throttle")
async def test_rotating_spoofed_addresses_from_one_direct_client_are_still_throttled(
    auth_server: AuthServer, settings: AuthSettings, db_pool: asyncpg.Pool
) -> None:
    # From 127.0.0.1, where uvicorn's default trusted X-Forwarded-For: each spoofed
    # address had its own 20 failures.
    client = AuthClient(auth_server.url, trusted=False, cookie_name=settings.session_cookie_name)
    names: list[str] = []
    try:
        for attempt in range(settings.login_max_failures):
            client.ip = f"198.51.100.{attempt + 1}"  # a new address every time
            names.append(unique_name("nobody"))
            failed = await client.login_response(names[-1], "wrong password")
            assert failed.status_code == 401, failed.text
        client.ip = "198.51.100.250"
        names.append(unique_name("nobody"))
        throttled = await client.login_response(names[-1], "wrong password")
    finally:
        await client.aclose()
    assert throttled.status_code == 429, throttled.text
    assert await _logged_ips(db_pool, names) == {"127.0.0.1"}


async def test_a_wrong_secret_is_the_socket_address_and_the_right_one_names_the_client(
    auth_server: AuthServer, settings: AuthSettings, db_pool: asyncpg.Pool
) -> None:
    peer = loopback_peer()
    guessing = AuthClient(
        auth_server.url,
        ip="203.0.113.66",
        proxy_secret="not-the-secret-but-long-enough",
        local_address=peer,
        cookie_name=settings.session_cookie_name,
    )
    gateway = AuthClient(
        auth_server.url,
        ip="203.0.113.67",
        local_address=peer,
        cookie_name=settings.session_cookie_name,
    )
    try:
        guessed = unique_name("nobody")
        assert (await guessing.login_response(guessed, "wrong password")).status_code == 401
        forwarded = unique_name("nobody")
        assert (await gateway.login_response(forwarded, "wrong password")).status_code == 401
    finally:
        await guessing.aclose()
        await gateway.aclose()
    assert await _logged_ips(db_pool, [guessed]) == {peer}
    assert await _logged_ips(db_pool, [forwarded]) == {"203.0.113.67"}
