"""The user's side of auth: registration (throttled per client IP, before any
hashing; the same answer whether or not the name or address was taken),
login (throttled, constant-cost), logout, password change (which ends the
other sessions and revokes every API token), and personal API tokens
(created only from a session with the current password, expiring, capped per
user). Each state change is logged as a security event (in PostgreSQL,
synchronously) and as activity (on the bus); a throttle lock is logged once
(`login_throttled`, `registration_throttled`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from ticktide_auth.errors import Conflict, Forbidden, NotAuthenticated, NotFound, TooManyAttempts
from ticktide_auth.repository import AuthRepository, TokenRow, UserRow
from ticktide_auth.throttle import LoginThrottle, RegistrationThrottle, Throttled
from ticktide_common.accounts.creation import DuplicateUser, PasswordLimits, create_user
from ticktide_common.accounts.passwords import PasswordHasher
from ticktide_common.accounts.policy import PolicyError, is_possible_username, printable
from ticktide_common.activity import ActivityRecorder
from ticktide_common.api_tokens import TOKEN_PREFIX
from ticktide_common.principal import Principal
from ticktide_common.sessions import NewSession, SessionStore, hash_secret, new_secret

__all__ = ["RequestMeta", "AuthService", "INVALID_LOGIN", "REGISTERED", "TokenPolicy"]

# The same words for an unknown user, a wrong password and a disabled account.
INVALID_LOGIN = "invalid username or password"
# The one answer to a registration that passed the policy, whether it created an
# account or found the name or address taken (no enumeration of accounts).
REGISTERED = (
    "registration received: if that username and email address were not already "
    "registered, the account now exists and you can sign in with them"
)
WRONG_PASSWORD = "current password is wrong"
TOKEN_NEEDS_SESSION = (
    "API tokens cannot create API tokens: sign in with your password (a session) to create one"
)


@dataclass(frozen=True)
class TokenPolicy:
    """Lifetimes and the per-user cap of personal API tokens."""

    default_days: int = 90
    max_days: int = 365
    max_live: int = 20

    def lifetime_days(self, requested: int | None) -> int:
        days = self.default_days if requested is None else requested
        if not 1 <= days <= self.max_days:
            raise PolicyError(f"expires_in_days must be between 1 and {self.max_days}")
        return days


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None
    user_agent: str | None


class AuthService:
    def __init__(
        self,
        *,
        repo: AuthRepository,
        sessions: SessionStore,
        throttle: LoginThrottle,
        registration_throttle: RegistrationThrottle,
        hasher: PasswordHasher,
        activity: ActivityRecorder,
        passwords: PasswordLimits,
        tokens: TokenPolicy | None = None,
    ) -> None:
        self.repo = repo
        self.sessions = sessions
        self.throttle = throttle
        self.registration_throttle = registration_throttle
        self.hasher = hasher
        self.activity = activity
        self.passwords = passwords
        self.tokens = tokens or TokenPolicy()

    def record(
        self, who: Principal | UserRow, action: str, meta: RequestMeta, **details: object
    ) -> None:
        user_id = who.user_id if isinstance(who, Principal) else who.id
        self.activity.record(
            user_id=user_id,
            username=who.username,
            action=action,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details={k: v for k, v in details.items() if isinstance(v, str | int | float | bool)},
        )

    async def _refuse(
        self,
        outcome: Throttled,
        event: str,
        meta: RequestMeta,
        *,
        too_many: str,
        reason: str,
        username: str,
        user_id: int | None = None,
    ) -> NoReturn:
        """429 with Retry-After; the security event once per lock, not per refusal."""
        if outcome.first_of_lock:
            await self.repo.insert_security_event(
                event,
                user_id=user_id,
                ip_address=meta.ip_address,
                details={
                    "reason": reason,
                    "scope": outcome.scope,
                    "username_tried": printable(username),
                    "retry_after": outcome.retry_after_seconds,
                },
            )
        raise TooManyAttempts(
            f"{too_many}; try again in {outcome.retry_after_seconds} seconds",
            outcome.retry_after_seconds,
        )

    async def _throttled(self, outcome: Throttled, username: str, meta: RequestMeta) -> NoReturn:
        user = await self._find(username) if outcome.first_of_lock else None
        await self._refuse(
            outcome,
            "login_throttled",
            meta,
            too_many="too many failed logins",
            reason=f"{self.throttle.max_failures} failed logins within "
            f"{self.throttle.window_seconds / 60:g} minutes",
            username=username,
            user_id=user.id if user else None,
        )

    async def _find(self, username: str) -> UserRow | None:
        return (
            await self.repo.user_by_username(username) if is_possible_username(username) else None
        )

    async def register(
        self, username: str, email: str, password: str, meta: RequestMeta
    ) -> UserRow | None:
        """A new `user` account, or None when the name or address is taken: the
        caller answers both alike (REGISTERED), and both cost the same (policy,
        throttle, an Argon2id hash, one insert attempt, one security event). 429
        with Retry-After when the client IP has used up its registrations (counted
        once the input passes the policy, before the password is hashed)."""
        limit = self.registration_throttle

        async def admit() -> None:
            outcome = await limit.attempt(meta.ip_address or "unknown")
            if isinstance(outcome, Throttled):
                await self._refuse(
                    outcome,
                    "registration_throttled",
                    meta,
                    too_many="too many registrations from this address",
                    reason=f"{limit.max_per_ip} registrations within "
                    f"{limit.window_seconds / 60:g} minutes",
                    username=username,
                )

        try:
            user = await create_user(
                self.repo,
                self.hasher,
                self.passwords,
                username=username,
                email=email,
                password=password,
                role="user",
                via="register",
                ip_address=meta.ip_address,
                admit=admit,
            )
        except DuplicateUser:
            await self.repo.insert_security_event(
                "register_duplicate",
                user_id=None,
                ip_address=meta.ip_address,
                details={"username_tried": printable(username), "email_tried": printable(email)},
            )
            return None
        self.record(user, "register", meta)
        return user

    async def login(
        self, username: str, password: str, meta: RequestMeta, previous_token: str | None
    ) -> tuple[UserRow, NewSession]:
        """A new session for the right password of an active user; 401 otherwise,
        429 when throttled (checked before any password work)."""
        outcome = await self.throttle.attempt(username, meta.ip_address or "unknown")
        if isinstance(outcome, Throttled):
            await self._throttled(outcome, username, meta)
        user = await self._find(username)
        # Always one Argon2 verification: the dummy hash when the user is unknown.
        verification = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not verification.ok or not user.is_active:
            reason = (
                "unknown_user"
                if user is None
                else "wrong_password"
                if not verification.ok
                else "inactive_user"
            )
            await self.repo.insert_security_event(
                "login_failed",
                user_id=user.id if user else None,
                ip_address=meta.ip_address,
                details={"reason": reason, "username_tried": printable(username)},
            )
            raise NotAuthenticated(INVALID_LOGIN)
        await self.throttle.succeeded(outcome)
        if previous_token:  # a login replaces the session the browser still holds
            previous = await self.sessions.resolve(previous_token)
            if previous is not None:
                await self.sessions.end(previous.credential_hash, previous.user_id)
        session = await self.sessions.create(
            user_id=user.id,
            username=user.username,
            role="admin" if user.role == "admin" else "user",
        )
        await self.repo.record_login(user.id, verification.updated_hash)
        self.record(user, "login", meta)
        return user, session

    async def logout(self, principal: Principal, meta: RequestMeta) -> None:
        if principal.method == "session":
            await self.sessions.end(principal.credential_hash, principal.user_id)
        self.record(principal, "logout", meta, method=principal.method)

    async def _check_current_password(
        self, principal: Principal, password: str, meta: RequestMeta, failed_event: str
    ) -> UserRow:
        """The caller's user if `password` is their current one; throttled and
        counted like a login (so it cannot be brute-forced through here), 403
        and a `failed_event` security event when wrong."""
        outcome = await self.throttle.attempt(principal.username, meta.ip_address or "unknown")
        if isinstance(outcome, Throttled):
            await self._throttled(outcome, principal.username, meta)
        user = await self.repo.user_by_id(principal.user_id)
        if user is None:
            raise NotAuthenticated("this account no longer exists")
        verification = await self.hasher.verify(password, user.password_hash)
        if not verification.ok:
            await self.repo.insert_security_event(
                failed_event,
                user_id=user.id,
                ip_address=meta.ip_address,
                details={"reason": "wrong_current_password", "method": principal.method},
            )
            raise Forbidden(WRONG_PASSWORD)
        await self.throttle.succeeded(outcome)
        return user

    async def change_password(
        self, principal: Principal, current: str, new: str, meta: RequestMeta
    ) -> tuple[int, int]:
        """Needs the current password (throttled like a login). Revokes every API
        token of the user (in the transaction that stores the new hash) and ends
        every other session; returns (sessions ended, tokens revoked)."""
        await self.passwords.check(new, principal.username)
        user = await self._check_current_password(
            principal, current, meta, "password_change_failed"
        )
        revoked = await self.repo.set_password(user.id, await self.hasher.hash(new))
        keep = principal.credential_hash if principal.method == "session" else None
        ended = await self.sessions.end_all(user.id, keep=keep)
        await self.repo.insert_security_event(
            "password_changed",
            user_id=user.id,
            ip_address=meta.ip_address,
            details={"by": "self", "sessions_ended": ended, "tokens_revoked": revoked},
        )
        self.record(
            principal, "password_change", meta, sessions_ended=ended, tokens_revoked=revoked
        )
        return ended, revoked

    async def create_token(
        self,
        principal: Principal,
        name: str,
        password: str,
        expires_in_days: int | None,
        meta: RequestMeta,
    ) -> tuple[TokenRow, str]:
        """Only from a session (403 for a Bearer token), with the current password
        (403 when wrong, throttled like a login); 422 for a lifetime out of bounds,
        409 when the user already holds `max_live` live tokens."""
        if principal.method != "session":
            raise Forbidden(TOKEN_NEEDS_SESSION)
        days = self.tokens.lifetime_days(expires_in_days)
        await self._check_current_password(principal, password, meta, "token_create_failed")
        token = TOKEN_PREFIX + new_secret()
        row = await self.repo.insert_token(
            principal.user_id,
            name,
            hash_secret(token),
            lifetime_days=days,
            max_live=self.tokens.max_live,
        )
        if row is None:
            raise Conflict(
                f"you already have {self.tokens.max_live} live API tokens, the most allowed: "
                "revoke one you no longer use (DELETE /api/auth/tokens/{id}) first"
            )
        await self.repo.insert_security_event(
            "token_created",
            user_id=principal.user_id,
            ip_address=meta.ip_address,
            details={"token_id": row.id, "name": printable(name, 100), "expires_in_days": days},
        )
        self.record(principal, "token_create", meta, token_id=row.id)
        return row, token

    async def revoke_token(self, principal: Principal, token_id: int, meta: RequestMeta) -> None:
        """A session revokes any live token of its user; an API token only itself
        (a leaked token must not be able to lock its owner's other scripts out)."""
        if principal.method != "session":
            own = await self.repo.token_id_by_hash(principal.credential_hash)
            if own != token_id:
                raise Forbidden(
                    "an API token can revoke only itself: sign in with your password "
                    "(a session) to revoke other tokens"
                )
        if not await self.repo.revoke_token(principal.user_id, token_id):
            raise NotFound(f"no live API token {token_id} of yours")
        await self.repo.insert_security_event(
            "token_revoked",
            user_id=principal.user_id,
            ip_address=meta.ip_address,
            details={"token_id": token_id},
        )
        self.record(principal, "token_revoke", meta, token_id=token_id)
