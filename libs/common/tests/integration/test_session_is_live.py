"""`SessionStore.is_live` on the real Redis: what a long response (an event
stream) re-checks. It answers like `resolve` (ended or timed out → False) but
never slides the idle window, so an open stream does not keep a session alive."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from ticktide_common.sessions import SessionStore
from ticktide_common.settings import RedisSettings

pytestmark = pytest.mark.integration

IDLE, ABSOLUTE = 30 * 60.0, 12 * 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _store(redis: Redis, settings: RedisSettings, clock: Clock) -> SessionStore:
    return SessionStore(
        redis,
        settings.ticktide_redis_prefix,
        idle_seconds=IDLE,
        absolute_seconds=ABSOLUTE,
        clock=clock,
    )


async def test_is_live_does_not_slide_the_idle_window(
    redis_client: Redis, settings: RedisSettings
) -> None:
    clock = Clock()
    store = _store(redis_client, settings, clock)
    session = await store.create(user_id=1, username="streamer", role="user")
    token_hash = session.principal.credential_hash
    for _ in range(2):
        clock.now += IDLE / 2 - 1
        assert await store.is_live(token_hash)
    clock.now += 3  # 30 min + 1 s since the last real use: idle, however often re-checked
    assert not await store.is_live(token_hash)
    assert await store.resolve(session.token) is None


async def test_is_live_answers_false_once_the_session_ended_or_is_too_old(
    redis_client: Redis, settings: RedisSettings
) -> None:
    clock = Clock()
    store = _store(redis_client, settings, clock)
    ended = await store.create(user_id=2, username="a", role="user")
    await store.end(ended.principal.credential_hash, 2)
    assert not await store.is_live(ended.principal.credential_hash)

    old = await store.create(user_id=3, username="b", role="user")
    while clock.now + IDLE / 2 < 1_800_000_000.0 + ABSOLUTE:
        clock.now += IDLE / 2
        assert await store.resolve(old.token) is not None  # used: slides
    clock.now = 1_800_000_000.0 + ABSOLUTE + 1
    assert not await store.is_live(old.principal.credential_hash)
    assert not await store.is_live("0" * 64)  # never existed
