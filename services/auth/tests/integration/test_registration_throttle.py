"""Registration is throttled per client IP (5 per 60 minutes by default): the
6th attempt is 429 with Retry-After before any password is hashed, stores no
user and is logged once; other IPs are unaffected; the window slides."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, FakeClock, unique_name
from ticktide_common.accounts.passwords import PasswordHasher

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def defaults(settings: AuthSettings) -> None:
    assert settings.registration_max_per_ip == 5
    assert settings.registration_window_minutes == 60


LIMIT, WINDOW = 5, 3600


def new_account(**overrides: Any) -> dict[str, Any]:
    name = unique_name("regt")
    return {"username": name, "email": f"{name}@example.com", "password": "long enough pw"} | (
        overrides
    )


async def register(client: AuthClient, body: dict[str, Any] | None = None) -> httpx.Response:
    return await client.request(
        "POST", "/api/auth/register", json=new_account() if body is None else body
    )


async def registered(client: AuthClient, times: int) -> None:
    for _ in range(times):
        response = await register(client)
        assert response.status_code == 202, response.text


async def throttle_events(pool: asyncpg.Pool, ip: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT user_id, details->>'username_tried' AS tried, details->>'scope' AS scope, "
        "(details->>'retry_after')::int AS retry_after FROM security_events "
        "WHERE event_type = 'registration_throttled' AND ip_address = $1::inet ORDER BY id",
        ip,
    )


async def test_6th_registration_is_429_unhashed_unstored_and_logged_once(
    client: AuthClient,
    other_client: AuthClient,
    db_pool: asyncpg.Pool,
    server_hasher: PasswordHasher,
) -> None:
    await registered(client, LIMIT)
    hashes = server_hasher.hashes
    body = new_account()
    refused = await register(client, body)
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= WINDOW
    # The login throttle's shape: only a detail.
    assert refused.json() == {
        "detail": f"too many registrations from this address; try again in {retry_after} seconds"
    }
    for _ in range(3):  # refused attempts are neither counted nor logged again
        assert (await register(client)).status_code == 429
    assert server_hasher.hashes == hashes  # no Argon2 work for a refused attempt
    stored = await db_pool.fetchval(
        "SELECT count(*) FROM users WHERE lower(username) = lower($1)", body["username"]
    )
    assert stored == 0
    events = await throttle_events(db_pool, client.ip)
    assert [(e["user_id"], e["tried"], e["scope"]) for e in events] == [
        (None, body["username"], "ip")
    ]
    assert events[0]["retry_after"] == retry_after

    await registered(other_client, 1)  # another IP is unaffected
    assert await throttle_events(db_pool, other_client.ip) == []


async def test_the_window_slides(client: AuthClient, auth_clock: FakeClock) -> None:
    await registered(client, 1)
    auth_clock.advance(60)
    await registered(client, LIMIT - 1)
    first = await register(client)
    assert first.status_code == 429 and first.headers["retry-after"] == str(WINDOW - 60)
    auth_clock.advance(WINDOW - 60)  # the first registration leaves the window
    await registered(client, 1)
    again = await register(client)
    assert again.status_code == 429 and again.headers["retry-after"] == "60"
    auth_clock.advance(60)
    await registered(client, 1)


async def test_failed_registrations_count_but_rejected_input_does_not(
    client: AuthClient, server_hasher: PasswordHasher
) -> None:
    for bad in (new_account(password="short"), new_account(username="no spaces"), {}):
        assert (await register(client, bad)).status_code == 422
    taken = new_account()
    assert (await register(client, taken)).status_code == 202
    hashes = server_hasher.hashes
    for _ in range(LIMIT - 1):  # a duplicate costs a hash, so it counts
        duplicate = new_account(username=taken["username"].upper())
        assert (await register(client, duplicate)).status_code == 202  # the same answer
    assert server_hasher.hashes == hashes + LIMIT - 1
    assert (await register(client)).status_code == 429


async def test_a_parallel_burst_cannot_exceed_the_limit(
    client: AuthClient, db_pool: asyncpg.Pool
) -> None:
    bodies = [new_account() for _ in range(2 * LIMIT)]
    responses = await asyncio.gather(*(register(client, b) for b in bodies))
    assert sorted(r.status_code for r in responses) == [202] * LIMIT + [429] * LIMIT
    created = await db_pool.fetchval(
        "SELECT count(*) FROM users WHERE username = ANY($1::text[])",
        [b["username"] for b in bodies],
    )
    assert created == LIMIT
