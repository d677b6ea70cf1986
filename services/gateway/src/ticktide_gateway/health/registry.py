"""The latest heartbeat of every service instance, in Redis.

- `<redis prefix>services:instances` (hash): instance id → the beat's JSON with
  its `last_seen` (see `service_status.stored_beat`).
- `<redis prefix>services:sent-at` (sorted set): instance id → the beat's
  `sent_at` (epoch seconds).

One Lua script per beat: a beat older than the stored one (competing gateway
consumers may take an instance's beats out of order) changes nothing, and
instances not heard from for `RETENTION_SECONDS` are pruned. Both keys expire
when no beat arrives for that long, so an abandoned installation leaves nothing.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from ticktide_common.messages import ServiceHeartbeatV1
from ticktide_gateway.health.services import RETENTION_SECONDS, stored_beat

__all__ = ["InstanceRegistry"]

# KEYS: hash, sorted set. ARGV: instance, sent_at, beat JSON, prune before, ttl.
_RECORD = """
local previous = redis.call('ZSCORE', KEYS[2], ARGV[1])
local recorded = 0
if not previous or tonumber(previous) <= tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
    recorded = 1
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 500)
for _, instance in ipairs(gone) do
    redis.call('HDEL', KEYS[1], instance)
    redis.call('ZREM', KEYS[2], instance)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return recorded
"""


class InstanceRegistry:
    """Writes beats as they arrive (the gateway's heartbeat consumer) and reads them."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.instances_key = f"{prefix}services:instances"
        self.sent_at_key = f"{prefix}services:sent-at"
        self._record = redis.register_script(_RECORD)

    async def record(self, beat: ServiceHeartbeatV1) -> None:
        """Keep `beat` unless a later one of its instance is already kept (the
        heartbeat consumer's handler: the bus acks once this returned)."""
        received_at = datetime.now(UTC)
        await self._record(
            keys=[self.instances_key, self.sent_at_key],
            args=[
                str(beat.instance),
                f"{beat.sent_at.timestamp():.6f}",
                json.dumps(stored_beat(beat, received_at), separators=(",", ":")),
                f"{time.time() - RETENTION_SECONDS:.6f}",
                int(RETENTION_SECONDS) + 60,
            ],
        )

    async def beats(self) -> list[dict[str, Any]]:
        """Every kept beat (the caller leaves out those past retention)."""
        stored = await self.redis.hgetall(self.instances_key)  # type: ignore[misc]
        beats: list[dict[str, Any]] = []
        for raw in stored.values():
            try:
                beats.append(json.loads(raw))
            except ValueError:
                continue
        return beats
