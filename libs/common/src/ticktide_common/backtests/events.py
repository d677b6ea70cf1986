"""The event log of a batch, the contract between its producers (the gateway writes
`queued` and a submission's `error`, the backtest workers the rest) and its
consumers (the gateway's SSE endpoints): one Redis stream per batch.

Stream `<redis prefix>backtest:events:<batch_id>`: entries `{"event": TYPE,
"data": JSON, "v": EVENT_STREAM_VERSION}` (`encode_entry`/`decode_entry`); the
entry id is the SSE event id, TYPE its event name (`EventName`), the JSON its data.
An entry without "v" is of version 1. A hash
`<redis prefix>backtest:state:<batch_id>` counts finished jobs and remembers
which jobs (and whether the summary) have been announced: a job's events and its
`progress` entry are appended by ONE Lua script that first claims the job, so a
redelivered job, or a worker that dies between commit and ack, never announces a
job twice. Both keys expire `ttl` seconds after the last write.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from redis.asyncio import Redis

__all__ = [
    "EVENT_NAMES",
    "EVENT_STREAM_VERSION",
    "BatchEventLog",
    "EventName",
    "JobOutcome",
    "StreamEntry",
    "decode_entry",
    "encode_entry",
    "finite",
    "events_key",
    "state_key",
]

# The version of an entry's fields and of its data's shape; a consumer reads only
# the versions it knows.
EVENT_STREAM_VERSION = 1

# queued: the batch was stored (gateway); result: one parameter set's metrics;
# error: a job failed (or the submission could not queue every job); progress: a job
# finished (counts and ETA); summary: the batch finished (the last entry).
EventName = Literal["queued", "result", "error", "progress", "summary"]
EVENT_NAMES: tuple[str, ...] = get_args(EventName)

JobOutcome = Literal["done", "failed", "skipped"]

# KEYS: stream, state. ARGV: job_id, outcome, total, maxlen, ttl, batch_id,
# created_at (epoch s), now (epoch s), then pairs (event type, json data).
_APPEND_JOB = """
local stream, state = KEYS[1], KEYS[2]
local job, outcome, total = ARGV[1], ARGV[2], tonumber(ARGV[3])
local maxlen, ttl = ARGV[4], tonumber(ARGV[5])
if redis.call('HSETNX', state, 'job:' .. job, outcome) == 0 then
  local done = tonumber(redis.call('HGET', state, 'finished') or '0')
  return {done, 0}
end
for i = 9, #ARGV, 2 do
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', ARGV[i], 'data', ARGV[i + 1],
    'v', VERSION)
end
local finished = redis.call('HINCRBY', state, 'finished', 1)
local failed = redis.call('HINCRBY', state, outcome, 1)
local elapsed = tonumber(ARGV[8]) - tonumber(ARGV[7])
local eta = 0
if finished < total and elapsed > 0 then
  eta = math.floor(elapsed / finished * (total - finished) * 10 + 0.5) / 10
end
local progress = cjson.encode({
  batch_id = ARGV[6], job_id = tonumber(job), outcome = outcome, done = finished,
  total = total, failed = tonumber(redis.call('HGET', state, 'failed') or '0'),
  skipped = tonumber(redis.call('HGET', state, 'skipped') or '0'), eta_seconds = eta})
redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', 'progress', 'data', progress,
  'v', VERSION)
redis.call('EXPIRE', stream, ttl)
redis.call('EXPIRE', state, ttl)
return {finished, 1}
"""

# KEYS: stream, state. ARGV: maxlen, ttl, json data. Appends the summary once.
_APPEND_SUMMARY = """
if redis.call('HSETNX', KEYS[2], 'summary', 1) == 0 then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', 'summary', 'data', ARGV[3],
  'v', VERSION)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return 1
"""


def events_key(prefix: str, batch_id: str) -> str:
    return f"{prefix}backtest:events:{batch_id}"


def state_key(prefix: str, batch_id: str) -> str:
    return f"{prefix}backtest:state:{batch_id}"


def finite(value: Any) -> Any:
    """JSON-safe copy: NaN and ±inf (a profit factor without losses) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return finite(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return finite(dataclasses.asdict(value))
    return value


@dataclass(frozen=True)
class StreamEntry:
    """One event as stored: its stream id, type and JSON text."""

    id: str
    event: str
    data: str
    version: int = EVENT_STREAM_VERSION


def encode_entry(event: EventName, data: dict[str, Any]) -> dict[str, str]:
    """The fields of a stream entry for `event` with `data` (made JSON-safe)."""
    return {"event": event, "data": json.dumps(finite(data)), "v": str(EVENT_STREAM_VERSION)}


def decode_entry(entry_id: bytes | str, fields: Mapping[Any, Any]) -> StreamEntry:
    """A stream entry as read from Redis (bytes or text fields)."""
    decoded = {_text(k): _text(v) for k, v in fields.items()}
    version = decoded.get("v", "1")
    return StreamEntry(
        _text(entry_id),
        decoded.get("event", ""),
        decoded.get("data", ""),
        int(version) if version.isdigit() else 0,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class BatchEventLog:
    """Append to and read from batches' event streams."""

    def __init__(self, redis: Redis, prefix: str, *, maxlen: int, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.maxlen = maxlen
        self.ttl_seconds = ttl_seconds
        version = f"local VERSION = '{EVENT_STREAM_VERSION}'\n"
        self._append_job = redis.register_script(version + _APPEND_JOB)
        self._append_summary = redis.register_script(version + _APPEND_SUMMARY)

    async def append(self, batch_id: str, event: EventName, data: dict[str, Any]) -> str:
        key = events_key(self.prefix, batch_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                key,
                encode_entry(event, data),  # type: ignore[arg-type]
                maxlen=self.maxlen,
                approximate=True,
            )
            pipe.expire(key, self.ttl_seconds)
            entry_id, _ = await pipe.execute()
        return _text(entry_id)

    async def append_job(
        self,
        *,
        batch_id: str,
        job_id: int,
        outcome: JobOutcome,
        total_jobs: int,
        created_at: float,
        now: float,
        events: Sequence[tuple[EventName, dict[str, Any]]],
    ) -> tuple[int, bool]:
        """Append a finished job's events and a `progress` entry, once per job.
        Returns (jobs finished so far, whether this call appended)."""
        args: list[str | int | float] = [
            job_id,
            outcome,
            total_jobs,
            self.maxlen,
            self.ttl_seconds,
            batch_id,
            created_at,
            now,
        ]
        for event, data in events:
            args.extend((event, json.dumps(finite(data))))
        keys = [events_key(self.prefix, batch_id), state_key(self.prefix, batch_id)]
        finished, appended = await self._append_job(keys=keys, args=args)
        return int(finished), bool(appended)

    async def append_summary(self, batch_id: str, data: dict[str, Any]) -> bool:
        keys = [events_key(self.prefix, batch_id), state_key(self.prefix, batch_id)]
        args: list[str | int | float] = [
            self.maxlen,
            self.ttl_seconds,
            json.dumps(finite(data)),
        ]
        return bool(await self._append_summary(keys=keys, args=args))

    async def read(
        self, batch_id: str, after: str, *, block_ms: int | None = None, count: int = 500
    ) -> list[StreamEntry]:
        """Entries after id `after` ("0" = from the start), waiting up to `block_ms`."""
        key = events_key(self.prefix, batch_id)
        answer: Any = await self.redis.xread({key: after}, count=count, block=block_ms)
        entries: list[StreamEntry] = []
        for _stream, items in answer or []:
            entries.extend(_entries(items))
        return entries

    async def range(
        self, batch_id: str, after: str, *, until: str = "+", count: int = 500
    ) -> list[StreamEntry]:
        """At most `count` entries after id `after` (exclusive; "0" = from the start)
        up to id `until` (inclusive), without waiting."""
        key = events_key(self.prefix, batch_id)
        start = "-" if after in ("0", "0-0") else f"({after}"
        items: Any = await self.redis.xrange(key, min=start, max=until, count=count)
        return _entries(items or [])


def _entries(items: Any) -> list[StreamEntry]:
    return [decode_entry(entry_id, fields) for entry_id, fields in items]
