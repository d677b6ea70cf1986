"""Password hashing: Argon2id through pwdlib, always off the event loop, with a
bounded number of hashes at once (each takes 64 MiB and tens of milliseconds).

A login for a user that does not exist verifies the password against a dummy
hash, so it costs the same as a wrong password for a real user.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = ["PasswordHasher", "Verification"]

_HASH = PasswordHash((Argon2Hasher(),))
# The hash of a random secret nobody knows; verified when there is no real hash.
_DUMMY_HASH = _HASH.hash(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Verification:
    ok: bool
    # A new hash when the stored one uses outdated parameters (store it on success).
    updated_hash: str | None = None


class PasswordHasher:
    """Hash and verify on worker threads; counts hashes and verifications (seen by
    tests and /metrics-style introspection, never by the login logic)."""

    def __init__(self, *, max_concurrent: int = 4) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self.hashes = 0
        self.verifications = 0
        self.dummy_verifications = 0

    async def hash(self, password: str) -> str:
        self.hashes += 1
        async with self._slots:
            return await asyncio.to_thread(_HASH.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> Verification:
        """Verify against `stored_hash`, or against the dummy hash when there is
        none or it is not a hash we know (e.g. an unusable placeholder): the
        work done is the same either way."""
        self.verifications += 1
        async with self._slots:
            if stored_hash is not None:
                try:
                    ok, updated = await asyncio.to_thread(
                        _HASH.verify_and_update, password, stored_hash
                    )
                    return Verification(ok, updated)
                except UnknownHashError:
                    pass
            self.dummy_verifications += 1
            await asyncio.to_thread(_HASH.verify, password, _DUMMY_HASH)
            return Verification(False)
