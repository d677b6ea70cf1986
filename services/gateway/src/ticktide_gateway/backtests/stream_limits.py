"""How many long-lived requests (event streams, awaited runs) may be open at once,
per user and in this gateway process: pure accounting, no I/O.

A request takes a `Lease` before it starts and gives it back in `finally`
(`release` is idempotent, so every exit path may call it). Counted in this
process only: with several gateway processes, each enforces its own caps.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ConcurrencyLimit", "Lease", "LimitReached"]

Scope = Literal["user", "global"]


class LimitReached(Exception):
    """The user's, or everybody's, share of a limit is taken."""

    def __init__(self, limit: str, scope: Scope, cap: int) -> None:
        self.limit = limit
        self.scope = scope
        self.cap = cap
        whose = "per user" if scope == "user" else "for the whole gateway"
        super().__init__(f"too many concurrent {limit}: at most {cap} {whose}")


class Lease:
    """One slot of a `ConcurrencyLimit`, held until `release`."""

    __slots__ = ("_limit", "user_id", "_held")

    def __init__(self, limit: ConcurrencyLimit, user_id: int) -> None:
        self._limit = limit
        self.user_id = user_id
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limit._give_back(self.user_id)


class ConcurrencyLimit:
    """At most `per_user` leases per user and `total` in all."""

    def __init__(self, name: str, *, per_user: int, total: int) -> None:
        if per_user < 1 or total < 1:
            raise ValueError(f"{name}: limits must be at least 1")
        self.name = name
        self.per_user = per_user
        self.total = total
        self._by_user: dict[int, int] = {}
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    def active_for(self, user_id: int) -> int:
        return self._by_user.get(user_id, 0)

    def acquire(self, user_id: int) -> Lease:
        """A lease, or LimitReached (the user's own cap is named first)."""
        if self.active_for(user_id) >= self.per_user:
            raise LimitReached(self.name, "user", self.per_user)
        if self._active >= self.total:
            raise LimitReached(self.name, "global", self.total)
        self._by_user[user_id] = self.active_for(user_id) + 1
        self._active += 1
        return Lease(self, user_id)

    def _give_back(self, user_id: int) -> None:
        left = self._by_user.get(user_id, 0) - 1
        if left > 0:
            self._by_user[user_id] = left
        else:
            self._by_user.pop(user_id, None)
        self._active -= 1
