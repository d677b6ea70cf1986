"""The administrators' side: users (list, add, edit, disable, delete, role),
the security-event log and the activity log. A change that would leave no
active administrator is refused; a change to who someone is or may do (role,
disabled, password, deletion) ends all of that user's sessions at once, and a
new password also revokes all of their API tokens (with the new hash, in one
transaction)."""

from __future__ import annotations

from typing import Any

import asyncpg

from ticktide_auth.errors import Conflict, NotFound
from ticktide_auth.repository import LastAdminError, UserRow
from ticktide_auth.schemas import AdminUserCreate, AdminUserPatch
from ticktide_auth.service import AuthService, RequestMeta
from ticktide_common.accounts.creation import DuplicateUser, create_user
from ticktide_common.accounts.policy import normalise_email
from ticktide_common.principal import Principal

__all__ = ["AdminService", "removes_admin"]

LAST_ADMIN = "refused: this change would leave no active administrator"


def _active_admin(user: UserRow | None) -> bool:
    return user is not None and user.role == "admin" and user.is_active


def removes_admin(before: UserRow, after: UserRow | None) -> bool:
    """True when an active admin stops being one (demoted, disabled or deleted);
    the repository then refuses unless another active admin remains."""
    return _active_admin(before) and not _active_admin(after)


class AdminService:
    def __init__(self, auth: AuthService) -> None:
        self.auth = auth
        self.repo = auth.repo

    async def list_users(self, **filters: Any) -> list[UserRow]:
        return await self.repo.list_users(**filters)

    async def get_user(self, user_id: int) -> UserRow:
        user = await self.repo.user_by_id(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    async def create_user(
        self, actor: Principal, body: AdminUserCreate, meta: RequestMeta
    ) -> UserRow:
        try:
            user = await create_user(
                self.repo,
                self.auth.hasher,
                self.auth.passwords,
                username=body.username,
                email=body.email,
                password=body.password,
                role=body.role,
                via="admin",
                actor_id=actor.user_id,
                ip_address=meta.ip_address,
            )
        except DuplicateUser:
            raise Conflict("that username or email address is already registered") from None
        self.auth.record(actor, "admin.user_create", meta, target_user_id=user.id)
        return user

    async def update_user(
        self, actor: Principal, user_id: int, patch: AdminUserPatch, meta: RequestMeta
    ) -> UserRow:
        email = normalise_email(patch.email) if patch.email is not None else None
        password_hash = None
        if patch.password is not None:
            target = await self.get_user(user_id)  # the policy refuses their own name in it
            await self.auth.passwords.check(patch.password, target.username)
            password_hash = await self.auth.hasher.hash(patch.password)
        try:
            changed = await self.repo.update_user(
                user_id,
                email=email,
                role=patch.role,
                is_active=patch.is_active,
                password_hash=password_hash,
                removes_admin=removes_admin,
            )
        except LastAdminError:
            raise Conflict(LAST_ADMIN) from None
        except asyncpg.UniqueViolationError:
            raise Conflict("that email address is already registered") from None
        if changed is None:
            raise NotFound(f"no user {user_id}")
        before, after, tokens_revoked = changed
        await self._log_changes(
            actor, before, after, tokens_revoked if password_hash is not None else None, meta
        )
        return after

    async def _log_changes(
        self,
        actor: Principal,
        before: UserRow,
        after: UserRow,
        tokens_revoked: int | None,
        meta: RequestMeta,
    ) -> None:
        """`tokens_revoked` is None when the password was not changed."""
        events: list[tuple[str, dict[str, Any]]] = []
        if before.role != after.role:
            events.append(("role_changed", {"from": before.role, "to": after.role}))
        if before.is_active != after.is_active:
            events.append(("user_disabled" if not after.is_active else "user_enabled", {}))
        if tokens_revoked is not None:
            events.append(("password_changed", {"by": "admin", "tokens_revoked": tokens_revoked}))
        if before.email != after.email:
            events.append(("email_changed", {}))
        ended = 0
        if any(kind != "email_changed" for kind, _ in events):
            ended = await self.auth.sessions.end_all(after.id)
        for kind, details in events:
            await self.repo.insert_security_event(
                kind,
                user_id=after.id,
                ip_address=meta.ip_address,
                details={**details, "actor_id": actor.user_id, "sessions_ended": ended},
            )
        self.auth.record(
            actor,
            "admin.user_update",
            meta,
            target_user_id=after.id,
            changes=",".join(kind for kind, _ in events) or "none",
        )

    async def delete_user(self, actor: Principal, user_id: int, meta: RequestMeta) -> None:
        try:
            deleted = await self.repo.delete_user(user_id, removes_admin=removes_admin)
        except LastAdminError:
            raise Conflict(LAST_ADMIN) from None
        if deleted is None:
            raise NotFound(f"no user {user_id}")
        ended = await self.auth.sessions.end_all(deleted.id)
        await self.repo.insert_security_event(
            "user_deleted",
            user_id=None,
            username=deleted.username,
            ip_address=meta.ip_address,
            details={
                "target_user_id": deleted.id,
                "target_username": deleted.username,
                "actor_id": actor.user_id,
                "sessions_ended": ended,
            },
        )
        self.auth.record(actor, "admin.user_delete", meta, target_user_id=deleted.id)

    async def security_events(self, **filters: Any) -> list[dict[str, Any]]:
        return await self.repo.security_events(**filters)

    async def activity(self, **filters: Any) -> list[dict[str, Any]]:
        return await self.repo.activity(**filters)
