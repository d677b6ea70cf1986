"""Server-side sessions in Redis, shared by the auth service (which creates and
ends them) and the gateway (which checks one on every request).

- The token is 256 random bits, given to the browser once in a cookie; Redis
  keeps only its SHA-256 (`<prefix>session:<hash>`), so a leaked Redis dump
  does not hand out sessions.
- Idle (sliding) and absolute timeouts are checked against a clock the caller
  passes in (tests inject one); checking and sliding the idle window is one
  atomic Lua call, so the gateway's check costs one round trip.
- Each user's session hashes are kept in a set, so logout-everywhere, a
  password change, a role change and disabling a user end every session at once.
- `is_live` re-checks a session without sliding it (an event stream asks it
  periodically, so an open stream does not keep an idle session alive).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

from redis.asyncio import Redis

from ticktide_common.principal import Principal, Role
from ticktide_common.settings import RedisSettings

__all__ = [
    "SessionSettings",
    "SessionStore",
    "NewSession",
    "hash_secret",
    "new_secret",
    "constant_time_equal",
]

Clock = Callable[[], float]

# KEYS[1] session hash key. ARGV: now, idle seconds, absolute seconds.
# Returns the session's fields, or nil when missing or expired (then deleted).
_RESOLVE = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
local f = {}
for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local absolute = tonumber(ARGV[3])
local created = tonumber(f['created_at'])
if now - tonumber(f['last_seen']) > idle or now - created > absolute then
  redis.call('DEL', KEYS[1])
  return nil
end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
local remaining = math.min(idle, absolute - (now - created))
redis.call('PEXPIRE', KEYS[1], math.max(1000, math.floor(remaining * 1000)))
return fields
"""

# KEYS[1] session hash key. ARGV: now, idle seconds, absolute seconds.
# 1 while the session is live, else 0; reads only (the idle window does not slide).
_IS_LIVE = """
local times = redis.call('HMGET', KEYS[1], 'last_seen', 'created_at')
if not times[1] or not times[2] then return 0 end
local now = tonumber(ARGV[1])
if now - tonumber(times[1]) > tonumber(ARGV[2]) then return 0 end
if now - tonumber(times[2]) > tonumber(ARGV[3]) then return 0 end
return 1
"""


def new_secret() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SessionSettings(RedisSettings):
    """Sessions, as the auth service (which creates them) and the gateway (which
    checks them) both read them: the cookie's name and the two timeouts."""

    session_idle_minutes: float = 30.0
    session_absolute_hours: float = 12.0
    # Cookies are `Secure` (and `__Host-` prefixed): browsers send them over HTTPS only.
    session_cookie_name: str = "__Host-ticktide_session"


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; not stored anywhere
    csrf_token: str
    principal: Principal


@dataclass(eq=False)
class SessionStore:
    """Sessions in Redis under `prefix`, ending after `idle_seconds` without use
    or `absolute_seconds` after sign-in."""

    redis: Redis
    prefix: str
    _: KW_ONLY
    idle_seconds: float
    absolute_seconds: float
    clock: Clock = time.time

    def __post_init__(self) -> None:
        self._resolve = self.redis.register_script(_RESOLVE)
        self._is_live = self.redis.register_script(_IS_LIVE)

    @classmethod
    def from_settings(
        cls, redis: Redis, settings: SessionSettings, *, clock: Clock = time.time
    ) -> SessionStore:
        """The store of `settings`' Redis prefix and timeouts."""
        return cls(
            redis,
            settings.ticktide_redis_prefix,
            idle_seconds=settings.session_idle_minutes * 60,
            absolute_seconds=settings.session_absolute_hours * 3600,
            clock=clock,
        )

    def _key(self, token_hash: str) -> str:
        return f"{self.prefix}session:{token_hash}"

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}user-sessions:{user_id}"

    async def create(self, *, user_id: int, username: str, role: Role) -> NewSession:
        """A fresh session (a new token at every login: no fixation)."""
        token, csrf = new_secret(), new_secret()
        token_hash = hash_secret(token)
        now = self.clock()
        ttl_ms = int(min(self.idle_seconds, self.absolute_seconds) * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(token_hash),
                mapping={
                    "user_id": user_id,
                    "username": username,
                    "role": role,
                    "csrf": csrf,
                    "created_at": repr(now),
                    "last_seen": repr(now),
                },
            )
            pipe.pexpire(self._key(token_hash), ttl_ms)
            pipe.sadd(self._user_key(user_id), token_hash)
            pipe.pexpire(self._user_key(user_id), int(self.absolute_seconds * 1000) + 60_000)
            await pipe.execute()
        principal = Principal(
            user_id=user_id,
            username=username,
            role=role,
            method="session",
            credential_hash=token_hash,
            csrf_token=csrf,
        )
        return NewSession(token=token, csrf_token=csrf, principal=principal)

    async def resolve(self, token: str) -> Principal | None:
        """The session's principal, sliding its idle window; None if unknown or expired.
        Raises redis errors: the caller fails closed."""
        token_hash = hash_secret(token)
        fields = await self._resolve(
            keys=[self._key(token_hash)],
            args=[repr(self.clock()), self.idle_seconds, self.absolute_seconds],
        )
        if not fields:
            return None
        values = {fields[i].decode(): fields[i + 1].decode() for i in range(0, len(fields), 2)}
        role = values["role"]
        return Principal(
            user_id=int(values["user_id"]),
            username=values["username"],
            role="admin" if role == "admin" else "user",
            method="session",
            credential_hash=token_hash,
            csrf_token=values["csrf"],
        )

    async def is_live(self, token_hash: str) -> bool:
        """Whether the session (by token hash) still exists and has not timed out,
        without sliding its idle window: for a long response re-checking the
        session it started with. Raises redis errors."""
        live = await self._is_live(
            keys=[self._key(token_hash)],
            args=[repr(self.clock()), self.idle_seconds, self.absolute_seconds],
        )
        return bool(live)

    async def end(self, token_hash: str, user_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(token_hash))
            pipe.srem(self._user_key(user_id), token_hash)
            await pipe.execute()

    async def end_all(self, user_id: int, *, keep: str | None = None) -> int:
        """End every session of a user (but `keep`, a token hash); returns how many."""
        members = await self.redis.smembers(self._user_key(user_id))
        hashes = [h.decode() if isinstance(h, bytes) else h for h in members]
        doomed = [h for h in hashes if h != keep]
        if not doomed:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self._key(h) for h in doomed))
            pipe.srem(self._user_key(user_id), *doomed)
            results = await pipe.execute()
        return int(results[0])
