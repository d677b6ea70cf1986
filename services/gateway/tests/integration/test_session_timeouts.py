"""Idle (sliding) and absolute session timeouts as the gateway enforces them,
measured by a clock the test controls: the gateway app runs in this process
(uvicorn in a thread, real HTTP) with `create_app(settings, clock=...)`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import uvicorn
from redis.asyncio import Redis

from ticktide_common.sessions import SessionStore
from ticktide_common.settings import RedisSettings, ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_common.testing.processes import free_port
from ticktide_common.testing.users import create_test_user
from ticktide_gateway.app import create_app
from ticktide_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

COOKIE = "__Host-ticktide_session"
IDLE = 30 * 60.0
ABSOLUTE = 12 * 3600.0


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture(scope="module")
def in_process_gateway(
    settings: ServiceSettings,
    clock: FakeClock,
    stub_services,  # type: ignore[no-untyped-def]
) -> Iterator[str]:
    port = free_port()
    app_settings = settings_for(
        GatewaySettings,
        settings,
        gateway_port=port,
        auth_url=stub_services["auth"].url,
        session_idle_minutes=IDLE / 60,
        session_absolute_hours=ABSOLUTE / 3600,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app_settings, clock=clock),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="gateway-in-process", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


async def new_session(
    pool: asyncpg.Pool, redis: Redis, settings: RedisSettings, clock: FakeClock
) -> dict[str, str]:
    store = SessionStore(
        redis,
        settings.ticktide_redis_prefix,
        idle_seconds=IDLE,
        absolute_seconds=ABSOLUTE,
        clock=clock,
    )
    user_id, username = await create_test_user(pool)
    session = await store.create(user_id=user_id, username=username, role="user")
    return {"Cookie": f"{COOKIE}={session.token}"}


async def status(base_url: str, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        return (await client.get("/api/crypto/symbols", headers=headers)).status_code


async def test_idle_timeout_slides_with_use_and_expires_without(
    in_process_gateway: str,
    clock: FakeClock,
    db_pool: asyncpg.Pool,
    redis_client: Redis,
    settings: RedisSettings,
) -> None:
    cookie = await new_session(db_pool, redis_client, settings, clock)
    assert await status(in_process_gateway, cookie) == 200
    # Used every 29 minutes for two hours: the idle window slides along.
    for _ in range(4):
        clock.advance(IDLE - 60)
        assert await status(in_process_gateway, cookie) == 200
    clock.advance(IDLE + 1)
    assert await status(in_process_gateway, cookie) == 401
    # Expired means gone: going back in time does not revive it.
    clock.advance(-(IDLE + 1))
    assert await status(in_process_gateway, cookie) == 401


async def test_absolute_timeout_ends_even_an_active_session(
    in_process_gateway: str,
    clock: FakeClock,
    db_pool: asyncpg.Pool,
    redis_client: Redis,
    settings: RedisSettings,
) -> None:
    cookie = await new_session(db_pool, redis_client, settings, clock)
    used_for = 0.0
    while used_for + IDLE / 2 < ABSOLUTE:
        clock.advance(IDLE / 2)
        used_for += IDLE / 2
        assert await status(in_process_gateway, cookie) == 200, f"after {used_for / 3600:.1f} h"
    clock.advance(ABSOLUTE - used_for + 1)  # just past 12 h, last use < 30 min ago
    assert await status(in_process_gateway, cookie) == 401
