"""Attempt throttling in Redis: a sliding-window limit per scope, and its two
uses — failed logins (per account and per client IP) and registrations (per
client IP).

`SlidingWindowLimit` is the machinery: each scope is a sorted set of attempt
times; one atomic script checks all of an attempt's scopes and, if none is
full, *reserves* the attempt in every one (so a parallel burst cannot slip past
the limit while its passwords are being hashed). An attempt on a full scope is
refused with the seconds until the attempt that keeps it full leaves the window
(`retry_after`), and is not counted, so hammering a full scope does not extend
the wait: it ends at most one window after it began. `first_of_lock` is true
once per lock, so the caller logs one row per lock, not one per refusal.

`LoginThrottle` (failed logins):

- The account scope is keyed by the lower-cased username, whether or not the
  user exists (no enumeration through throttling).
- A successful login takes its reservation back; a failed one leaves it counted.
- IPs the account has logged in from successfully (within `known_ip_days`) are
  exempt from the *account* scope (still bound by their own IP scope): an
  attacker spraying guesses at an account from elsewhere does not lock its owner
  out of their usual place, and from a new place for at most one window.
- Success clears nothing else: an IP's failures stay counted even if it then
  logs into some account (else one valid account would reset an attacker's IP).

`RegistrationThrottle` (registrations per client IP): every attempt that gets
as far as hashing a password counts, whether or not it creates a user, and is
never taken back; it bounds both the Argon2 work and the accounts one address
can make.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ticktide_common.sessions import hash_secret

__all__ = [
    "SlidingWindowLimit",
    "ScopeKey",
    "Reservation",
    "Throttled",
    "LoginThrottle",
    "RegistrationThrottle",
]

Clock = Callable[[], float]

# KEYS: per scope i (1..n) its sorted set KEYS[2i-1] and lock marker KEYS[2i];
#       then one exemption marker per index listed in ARGV[6..].
# ARGV: now, window seconds, limit, member, n, then the scopes the markers exempt.
# A scope whose exemption marker exists is not checked (its attempts still count).
# Returns {0} when reserved in every scope, or {1, scope index, retry_after_ms, first_of_lock}.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local n = tonumber(ARGV[5])
local exempt = {}
for j = 6, #ARGV do
  if redis.call('EXISTS', KEYS[2 * n + j - 5]) == 1 then exempt[tonumber(ARGV[j])] = true end
end
local function full(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then return nil end
  -- the attempt whose leaving brings the count under the limit
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) * 1000))
end
local scope, wait = nil, 0
for i = 1, n do
  if not exempt[i] then
    local w = full(KEYS[2 * i - 1])
    if w and w > wait then scope, wait = i, w end
  end
end
if scope then
  -- one log row per lock: the marker holds (in clock time) when this lock ends
  local marker = KEYS[2 * scope]
  local first = 0
  if tonumber(redis.call('GET', marker) or '0') <= now then
    redis.call('SET', marker, tostring(now + wait / 1000), 'PX', wait)
    first = 1
  end
  return {1, scope, wait, first}
end
local ttl = math.ceil(window * 1000)
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
end
return {0}
"""


@dataclass(frozen=True)
class ScopeKey:
    """One scope of an attempt: its name (reported when it is full), its Redis
    key, and optionally a key whose existence exempts the attempt from it."""

    name: str
    key: str
    exempt_if: str | None = None


@dataclass(frozen=True)
class Throttled:
    """The attempt was refused; `first_of_lock` is true once per lock (log it once)."""

    scope: str
    retry_after_seconds: int
    first_of_lock: bool


@dataclass(frozen=True)
class Reservation:
    """An attempt counted in every scope (until `SlidingWindowLimit.release`)."""

    scopes: tuple[ScopeKey, ...]
    member: str


class SlidingWindowLimit:
    """At most `limit` attempts per scope within any `window_seconds`."""

    def __init__(
        self, redis: Redis, *, limit: int, window_seconds: float, clock: Clock = time.time
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._attempt = redis.register_script(_ATTEMPT)

    async def attempt(self, scopes: Sequence[ScopeKey]) -> Reservation | Throttled:
        """Reserve one attempt in every scope, or say which is full and for how
        long (the longest wait; the first scope on a tie). Raises Redis errors:
        the caller fails closed."""
        now = self.clock()
        member = f"{now!r}:{secrets.token_hex(6)}"
        exemptions = [(i, s.exempt_if) for i, s in enumerate(scopes, 1) if s.exempt_if]
        keys = [k for s in scopes for k in (s.key, f"{s.key}:locked")]
        args: list[str | float] = [repr(now), self.window_seconds, self.limit, member, len(scopes)]
        result = await self._attempt(
            keys=keys + [marker for _, marker in exemptions],
            args=args + [i for i, _ in exemptions],
        )
        if int(result[0]) == 0:
            return Reservation(tuple(scopes), member)
        return Throttled(
            scope=scopes[int(result[1]) - 1].name,
            retry_after_seconds=max(1, math.ceil(int(result[2]) / 1000)),
            first_of_lock=int(result[3]) == 1,
        )

    @staticmethod
    def release(reservation: Reservation, pipe: Pipeline) -> None:
        """Queue on `pipe` the commands that take the attempt back."""
        for scope in reservation.scopes:
            pipe.zrem(scope.key, reservation.member)


def _ip_part(ip: str) -> str:
    # `ip` is a validated address or "unknown"; hashed only to bound key length.
    return hash_secret(ip)


class LoginThrottle:
    """Failed logins per account and per client IP (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_failures: int,
        window_seconds: float,
        known_ip_days: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.known_ip_seconds = known_ip_days * 86400
        self.limit = SlidingWindowLimit(
            redis, limit=max_failures, window_seconds=window_seconds, clock=clock
        )

    async def attempt(self, username: str, ip: str) -> Reservation | Throttled:
        """Reserve one attempt for (username, ip), or say why and how long not.
        Raises Redis errors: the caller fails closed."""
        base = f"{self.prefix}login"
        account, ip_part = hash_secret(username.lower()), _ip_part(ip)
        return await self.limit.attempt(
            [
                ScopeKey(
                    "account",
                    f"{base}:account:{account}",
                    exempt_if=f"{base}:known:{account}:{ip_part}",
                ),
                ScopeKey("ip", f"{base}:ip:{ip_part}"),
            ]
        )

    async def succeeded(self, reservation: Reservation) -> None:
        """The password was right: the attempt does not count, the IP becomes known
        (exempt from the account scope)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self.limit.release(reservation, pipe)
            for scope in reservation.scopes:
                if scope.exempt_if:
                    pipe.set(scope.exempt_if, "1", px=int(self.known_ip_seconds * 1000))
            await pipe.execute()


class RegistrationThrottle:
    """Registrations per client IP: `max_per_ip` per `window_seconds`, sliding."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_per_ip: int,
        window_seconds: float,
        clock: Clock = time.time,
    ) -> None:
        self.prefix = prefix
        self.max_per_ip = max_per_ip
        self.window_seconds = window_seconds
        self.limit = SlidingWindowLimit(
            redis, limit=max_per_ip, window_seconds=window_seconds, clock=clock
        )

    async def attempt(self, ip: str) -> Reservation | Throttled:
        """Count one registration attempt from `ip`, or say how long until one
        is allowed. Raises Redis errors: the caller fails closed."""
        return await self.limit.attempt(
            [ScopeKey("ip", f"{self.prefix}register:ip:{_ip_part(ip)}")]
        )
