"""Brute-force protection (ASVS V2.2): 20 failed logins per 15 minutes per
account and per client IP, 429 with Retry-After, logged; a lock is not
extended by hammering it and does not keep the owner out for long."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from ticktide_auth.testing import AuthClient, FakeClock, unique_name
from ticktide_common.accounts.passwords import PasswordHasher

pytestmark = pytest.mark.integration

WINDOW = 15 * 60


async def fail(client: AuthClient, username: str, times: int) -> None:
    for _ in range(times):
        response = await client.login_response(username, "definitely not it")
        assert response.status_code == 401, response.text


async def test_21st_failed_login_is_429_and_logged(
    client: AuthClient, make_user, db_pool: asyncpg.Pool, auth_clock: FakeClock
) -> None:
    user = await make_user()
    await fail(client, user.username, 20)
    throttled = await client.login_response(user.username, user.password)  # even the right one
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= WINDOW
    assert "too many failed logins" in throttled.json()["detail"]
    for _ in range(5):  # refused attempts are not counted and not logged again
        assert (await client.login_response(user.username, "x" * 10)).status_code == 429

    rows = await db_pool.fetch(
        "SELECT event_type, user_id, host(ip_address) AS ip, details->>'scope' AS scope, "
        "details->>'username_tried' AS tried, details->>'reason' AS reason "
        "FROM security_events WHERE details->>'username_tried' = $1 ORDER BY id",
        user.username,
    )
    failed = [r for r in rows if r["event_type"] == "login_failed"]
    locks = [r for r in rows if r["event_type"] == "login_throttled"]
    assert len(failed) == 20 and len(locks) == 1
    assert {(r["user_id"], r["ip"], r["reason"]) for r in failed} == {
        (user.id, client.ip, "wrong_password")
    }
    assert locks[0]["user_id"] == user.id and locks[0]["ip"] == client.ip
    assert locks[0]["scope"] in ("account", "ip")

    auth_clock.advance(retry_after)
    assert (await client.login_response(user.username, user.password)).status_code == 200


async def test_retry_after_is_when_the_oldest_failure_leaves_the_window(
    client: AuthClient, make_user, auth_clock: FakeClock
) -> None:
    user = await make_user()
    await fail(client, user.username, 1)
    auth_clock.advance(60)
    await fail(client, user.username, 19)
    first = await client.login_response(user.username, user.password)
    assert first.status_code == 429 and first.headers["retry-after"] == str(WINDOW - 60)
    auth_clock.advance(WINDOW - 60)  # the first failure leaves: one attempt is free again
    await fail(client, user.username, 1)
    again = await client.login_response(user.username, user.password)
    assert again.status_code == 429 and again.headers["retry-after"] == "60"


async def test_owner_from_another_ip_is_locked_out_at_most_one_window(
    client: AuthClient, other_client: AuthClient, make_user, auth_clock: FakeClock
) -> None:
    user = await make_user()
    attacker, owner = client, other_client
    await fail(attacker, user.username, 20)
    locked = await owner.login_response(user.username, user.password)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) <= WINDOW
    for _ in range(10):  # the attacker keeps hammering during the lock, to no effect
        auth_clock.advance(60)
        assert (await attacker.login_response(user.username, "guess")).status_code == 429
    auth_clock.advance(WINDOW - 10 * 60 + 1)
    assert (await owner.login_response(user.username, user.password)).status_code == 200


async def test_an_ip_the_owner_logged_in_from_is_exempt_from_the_account_lock(
    client: AuthClient, other_client: AuthClient, make_user, auth_server
) -> None:
    user = await make_user()
    attacker, owner = client, other_client
    await owner.login(user.username, user.password)  # the owner's usual place
    await fail(attacker, user.username, 20)
    assert (await owner.login_response(user.username, user.password)).status_code == 200
    stranger = AuthClient(auth_server.url, ip="192.0.2.77")
    try:
        refused = await stranger.login_response(user.username, user.password)
        assert refused.status_code == 429
    finally:
        await stranger.aclose()


async def test_ip_scope_counts_failures_across_usernames(
    client: AuthClient, other_client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    user = await make_user()
    for _ in range(20):  # password spraying over names that do not exist
        response = await client.login_response(unique_name("nobody"), "Summer2024!")
        assert response.status_code == 401
    refused = await client.login_response(user.username, user.password)
    assert refused.status_code == 429
    lock = await db_pool.fetchrow(
        "SELECT details FROM security_events WHERE event_type = 'login_throttled' "
        "AND ip_address = $1::inet ORDER BY id DESC LIMIT 1",
        client.ip,
    )
    assert lock is not None and '"scope": "ip"' in lock["details"]
    assert (await other_client.login_response(user.username, user.password)).status_code == 200


async def test_a_parallel_burst_cannot_exceed_the_limit(client: AuthClient, make_user) -> None:
    user = await make_user()
    responses = await asyncio.gather(
        *(client.login_response(user.username, f"guess-{i:04d}") for i in range(40))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 20 + [429] * 20


async def test_unknown_user_and_wrong_password_look_the_same_and_both_hash(
    client: AuthClient, other_client: AuthClient, make_user, server_hasher: PasswordHasher
) -> None:
    user = await make_user()
    before = (server_hasher.verifications, server_hasher.dummy_verifications)
    wrong = await client.login_response(user.username, "wrong password")
    middle = (server_hasher.verifications, server_hasher.dummy_verifications)
    unknown = await other_client.login_response(unique_name("ghost"), "wrong password")
    after = (server_hasher.verifications, server_hasher.dummy_verifications)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid username or password"}
    assert wrong.headers.get("set-cookie") is None and unknown.headers.get("set-cookie") is None
    # One Argon2 verification each: the real hash, then the dummy hash.
    assert middle == (before[0] + 1, before[1])
    assert after == (middle[0] + 1, middle[1] + 1)
    impossible = await other_client.login_response("no such name!", "wrong password")
    assert impossible.json() == wrong.json()
    assert server_hasher.dummy_verifications == after[1] + 1
