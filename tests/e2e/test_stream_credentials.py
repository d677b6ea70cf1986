"""Issue 10 ("an event stream keeps running after its token is revoked") through
the real auth service and gateway: an open `GET .../batch/{id}/events` ends within
the re-check interval once its token is revoked with `DELETE /api/auth/tokens/{id}`,
or its cookie session is ended with `POST /api/auth/logout`; a comment says why."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.testing.users import bearer
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COOKIE = "__Host-ticktide_session"
RECHECK_SECONDS = 1.0
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    binance: FakeBinance, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[CryptoStack]:
    env = stack_env(
        service_env,
        binance.url,
        BACKTEST_STREAM_RECHECK_SECONDS=str(RECHECK_SECONDS),
        REGISTRATION_MAX_PER_IP="100",
    )
    started = await start_stack(binance, env, log_dir)
    try:
        yield started
    finally:
        await started.close()


async def _signed_up(client: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[int, dict[str, str]]:
    """A user registered and signed in through the gateway: (id, cookie + CSRF headers)."""
    username = f"stream-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert (await client.post("/api/auth/register", json=body)).status_code == 202
    login = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookies: SimpleCookie = SimpleCookie()
    for header in login.headers.get_list("set-cookie"):
        cookies.load(header)
    headers = {
        "Cookie": f"{COOKIE}={cookies[COOKIE].value}",
        "X-CSRF-Token": login.json()["csrf_token"],
    }
    user_id = await pool.fetchval("SELECT id FROM users WHERE username = $1", username)
    return int(user_id), headers


async def _unfinished_batch(pool: asyncpg.Pool, user_id: int) -> str:
    batch_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, status, total_jobs,
                                  total_backtests)
           VALUES ($1, $2, '{}'::jsonb, 'sma_cross', 'queued', 1, 1)""",
        batch_id,
        user_id,
    )
    return f"/api/crypto/backtest/batch/{batch_id}/events"


async def _ends_after(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    end_credential: Callable[[], Awaitable[None]],
) -> tuple[float, list[str]]:
    """Seconds from `end_credential()` to the end of the open stream, and its lines."""
    lines: list[str] = []

    async def read(response: httpx.Response) -> None:
        async for line in response.aiter_lines():
            lines.append(line)

    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        reader = asyncio.create_task(read(response))
        await asyncio.sleep(RECHECK_SECONDS * 2.5)  # re-checked while the credential held
        assert not reader.done(), lines
        ended = time.monotonic()
        await end_credential()
        await asyncio.wait_for(reader, timeout=RECHECK_SECONDS + 14)
        return time.monotonic() - ended, lines


async def test_a_stream_ends_when_its_token_is_revoked(
    stack: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as client:
        user_id, session = await _signed_up(client, db_pool)
        made = await client.post(
            "/api/auth/tokens", json={"name": "stream", "password": PASSWORD}, headers=session
        )
        assert made.status_code == 201, made.text
        token = made.json()

        async def revoke() -> None:
            revoked = await client.delete(f"/api/auth/tokens/{token['id']}", headers=session)
            assert revoked.status_code in (200, 204), revoked.text

        url = await _unfinished_batch(db_pool, user_id)
        took, lines = await _ends_after(client, url, bearer(token["token"]), revoke)
    assert took < RECHECK_SECONDS + 4, took
    assert any("token was revoked" in line for line in lines), lines


async def test_a_stream_ends_when_its_session_logs_out(
    stack: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as client:
        user_id, session = await _signed_up(client, db_pool)

        async def logout() -> None:
            answer = await client.post("/api/auth/logout", headers=session)
            assert answer.status_code in (200, 204), answer.text

        url = await _unfinished_batch(db_pool, user_id)
        took, lines = await _ends_after(client, url, session, logout)
    assert took < RECHECK_SECONDS + 4, took
    assert any("the session ended" in line for line in lines), lines
