"""The admin user API: users, security events, activity. Admin role required."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from ticktide_auth.deps import AdminPrincipal, AdminServiceDep, MetaDep
from ticktide_auth.routes.auth import MAX_ID
from ticktide_auth.schemas import AdminUserCreate, AdminUserPatch, RoleChange, UserOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin", tags=["admin"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/users", response_model=list[UserOut])
async def list_users(
    _: AdminPrincipal,
    admin: AdminServiceDep,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UserOut]:
    return [UserOut.of(u) for u in await admin.list_users(limit=limit, offset=offset)]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def add_user(
    body: AdminUserCreate, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> UserOut:
    return UserOut.of(await admin.create_user(actor, body, meta))


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: UserId, _: AdminPrincipal, admin: AdminServiceDep) -> UserOut:
    return UserOut.of(await admin.get_user(user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
async def edit_user(
    user_id: UserId,
    body: AdminUserPatch,
    actor: AdminPrincipal,
    admin: AdminServiceDep,
    meta: MetaDep,
) -> UserOut:
    """Change email, role, is_active and/or password; role, disabling and a new
    password end the user's sessions."""
    return UserOut.of(await admin.update_user(actor, user_id, body, meta))


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: UserId, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> None:
    await admin.delete_user(actor, user_id, meta)


@router.post("/users/{user_id}/disable", response_model=UserOut)
async def disable_user(
    user_id: UserId, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> UserOut:
    return UserOut.of(
        await admin.update_user(actor, user_id, AdminUserPatch(is_active=False), meta)
    )


@router.put("/users/{user_id}/role", response_model=UserOut)
async def change_role(
    user_id: UserId, body: RoleChange, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> UserOut:
    return UserOut.of(await admin.update_user(actor, user_id, AdminUserPatch(role=body.role), meta))


@router.get("/security-events")
async def security_events(
    _: AdminPrincipal,
    admin: AdminServiceDep,
    limit: Limit = 100,
    type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
) -> list[dict[str, Any]]:
    """Newest first; `type` filters on event_type (e.g. login_failed)."""
    return await admin.security_events(limit=limit, event_type=type)


@router.get("/activity")
async def activity(
    _: AdminPrincipal,
    admin: AdminServiceDep,
    limit: Limit = 100,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[dict[str, Any]]:
    """Newest first, optionally one user's."""
    return await admin.activity(limit=limit, user_id=user_id)
