"""The gateway's two Redis pools on the real Redis: the main one (session checks,
the cache) is bounded and, exhausted, refuses within its short wait instead of
hanging (the session check then answers 503); the stream pool is another pool,
named apart, so blocking reads never take the main pool's connections."""

from __future__ import annotations

import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ticktide_common.sessions import SessionStore
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_gateway.app import _redis_pools
from ticktide_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration


async def test_an_exhausted_main_pool_refuses_fast_and_streams_do_not_share_it(
    settings: RedisSettings,
) -> None:
    configured = settings_for(
        GatewaySettings,
        settings,
        gateway_redis_max_connections=2,
        gateway_redis_pool_timeout_seconds=0.2,
    )
    main, streams = _redis_pools(configured)
    try:
        assert main.connection_pool is not streams.connection_pool
        held = [await main.connection_pool.get_connection() for _ in range(2)]
        # Blocking reads go to the other pool: they still get a connection.
        assert not await streams.xread({f"{settings.ticktide_redis_prefix}nothing": "0"}, block=1)
        store = SessionStore(
            main, settings.ticktide_redis_prefix, idle_seconds=60, absolute_seconds=600
        )
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await store.resolve("no-such-session")
        assert time.monotonic() - started < 2.0  # the 0.2 s wait, not a hang
        for connection in held:
            await main.connection_pool.release(connection)
        assert await store.resolve("no-such-session") is None  # served again
        names = {
            main.connection_pool.connection_kwargs["client_name"],
            streams.connection_pool.connection_kwargs["client_name"],
        }
        assert len(names) == 2
    finally:
        await main.aclose()
        await streams.aclose()
