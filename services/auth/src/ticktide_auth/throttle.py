"""Failed-login throttling in Redis, per account and per client IP.

Each scope is a sorted set of attempt times over a sliding window. One atomic
script checks both scopes and, if neither is full, *reserves* the attempt in
both (so a burst of parallel guesses cannot slip past the limit while their
hashes are being checked); a successful login takes its reservation back, a
failed one leaves it counted.

- An attempt on a full scope answers 429 *before* any password check and is not
  counted, so hammering a locked account does not extend the lock: a lock ends
  when its oldest counted failure leaves the window (`retry_after`), at most one
  window after it began.
- The account scope is keyed by the lower-cased username, whether or not the
  user exists (no enumeration through throttling).
- IPs the account has logged in from successfully (within `known_ip_days`) are
  exempt from the *account* scope (still bound by their own IP scope): an
  attacker spraying guesses at an account from elsewhere does not lock its owner
  out of their usual place, and from a new place for at most one window.
- Success clears nothing else: an IP's failures stay counted even if it then
  logs into some account (else one valid account would reset an attacker's IP).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from ticktide_common.sessions import hash_secret

__all__ = ["LoginThrottle", "Reservation", "Throttled", "Scope"]

Scope = Literal["account", "ip"]
Clock = Callable[[], float]

# KEYS: account set, ip set, known-ip marker, lock-logged marker prefix (account), (ip).
# ARGV: now, window seconds, limit, member.
# Returns {0, member} when reserved, or {1, scope, retry_after_ms, first_of_lock}.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local function full(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then return nil end
  -- the failure whose leaving brings the count under the limit
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) * 1000))
end
local known = redis.call('EXISTS', KEYS[3]) == 1
local account_wait = nil
if not known then account_wait = full(KEYS[1]) end
local ip_wait = full(KEYS[2])
if account_wait or ip_wait then
  local scope, wait, marker = 'ip', ip_wait, KEYS[5]
  if account_wait and (not ip_wait or account_wait >= ip_wait) then
    scope, wait, marker = 'account', account_wait, KEYS[4]
  end
  -- one log row per lock: the marker holds (in clock time) when this lock ends
  local first = 0
  if tonumber(redis.call('GET', marker) or '0') <= now then
    redis.call('SET', marker, tostring(now + wait / 1000), 'PX', wait)
    first = 1
  end
  return {1, scope, wait, first}
end
local ttl = math.ceil(window * 1000)
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl)
return {0, ARGV[4]}
"""


@dataclass(frozen=True)
class Throttled:
    """The attempt was refused; `first_of_lock` is true once per lock (log it once)."""

    scope: Scope
    retry_after_seconds: int
    first_of_lock: bool


@dataclass(frozen=True)
class Reservation:
    """An attempt counted in both scopes until `LoginThrottle.succeeded` takes it back."""

    account_key: str
    ip_key: str
    known_key: str
    member: str


class LoginThrottle:
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
        self.clock = clock
        self._attempt = redis.register_script(_ATTEMPT)

    def _keys(self, username: str, ip: str) -> tuple[str, str, str]:
        account = hash_secret(username.lower())
        # `ip` is a validated address or "unknown"; hashed only to bound key length.
        ip_part = hash_secret(ip)
        base = f"{self.prefix}login"
        return (
            f"{base}:account:{account}",
            f"{base}:ip:{ip_part}",
            f"{base}:known:{account}:{ip_part}",
        )

    async def attempt(self, username: str, ip: str) -> Reservation | Throttled:
        """Reserve one attempt for (username, ip), or say why and how long not.
        Raises Redis errors: the caller fails closed."""
        account_key, ip_key, known_key = self._keys(username, ip)
        member = f"{self.clock()!r}:{secrets.token_hex(6)}"
        result = await self._attempt(
            keys=[account_key, ip_key, known_key, f"{account_key}:locked", f"{ip_key}:locked"],
            args=[repr(self.clock()), self.window_seconds, self.max_failures, member],
        )
        if int(result[0]) == 0:
            return Reservation(account_key, ip_key, known_key, member)
        scope: Scope = "account" if result[1] == b"account" else "ip"
        return Throttled(
            scope=scope,
            retry_after_seconds=max(1, math.ceil(int(result[2]) / 1000)),
            first_of_lock=int(result[3]) == 1,
        )

    async def succeeded(self, reservation: Reservation) -> None:
        """The password was right: the attempt does not count, the IP becomes known."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(reservation.account_key, reservation.member)
            pipe.zrem(reservation.ip_key, reservation.member)
            pipe.set(reservation.known_key, "1", px=int(self.known_ip_seconds * 1000))
            await pipe.execute()
