"""The admin user API: users, security events, activity. Admin role required."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from ticktide_auth.deps import AdminPrincipal, AdminServiceDep, MetaDep
from ticktide_auth.routes.auth import MAX_ID
from ticktide_auth.schemas import AdminUserCreate, AdminUserPatch, RoleChange, RoleName, UserOut
from ticktide_common.dates import UtcTime

__all__ = ["router"]

router = APIRouter(prefix="/api/admin", tags=["admin"])

# The 409s these routes give (the gateway's document adds the other errors by rule).
_LAST_ADMIN = "the change would leave no active administrator"
_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "the username or email address is already registered"}
}
_LAST_ADMIN_409: dict[int | str, dict[str, Any]] = {409: {"description": _LAST_ADMIN}}
_EDIT_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": f"the email address is already registered, or {_LAST_ADMIN}"}
}

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Printable text only: PostgreSQL refuses NUL, and nothing typed needs control characters.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Username = Annotated[
    str | None,
    Query(
        max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="exactly this user's (any case)"
    ),
]
# UtcTime: converted to UTC, a 422 when that leaves the years 1-9999 (issue 10).
Since = Annotated[UtcTime | None, Query(description="from this time on (inclusive)")]
Until = Annotated[UtcTime | None, Query(description="before this time (exclusive)")]
Before = Annotated[
    UtcTime | None,
    Query(description="keyset cursor, with `before_id`: the previous page's last `timestamp`"),
]
BeforeId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="the `id` of the previous page's last row")
]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC (CONTRACT §2: times are UTC in and out)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _cursor(before: datetime | None, before_id: int | None) -> tuple[datetime, int] | None:
    if (before is None) != (before_id is None):
        raise HTTPException(
            422,
            "query fields 'before' and 'before_id' go together: the timestamp and id of "
            "the previous page's last row",
        )
    if before is None or before_id is None:
        return None
    moment = _utc(before)
    assert moment is not None
    return moment, before_id


@router.get("/users", response_model=list[UserOut])
async def list_users(
    _: AdminPrincipal,
    admin: AdminServiceDep,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    search: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=_PRINTABLE,
            description="a part of the username or the email address, any case",
        ),
    ] = None,
    role: Annotated[RoleName | None, Query()] = None,
    active: Annotated[bool | None, Query(description="true: active only; false: disabled")] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_ID, description="keyset cursor: the last id of the previous page"),
    ] = None,
) -> list[UserOut]:
    """In id order; `search`, `role` and `active` filter, `after` pages."""
    users = await admin.list_users(
        limit=limit,
        offset=offset,
        search=search.strip() or None if search is not None else None,
        role=role,
        active=active,
        after=after,
    )
    return [UserOut.of(u) for u in users]


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, response_model=UserOut, responses=_TAKEN
)
async def add_user(
    body: AdminUserCreate, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> UserOut:
    return UserOut.of(await admin.create_user(actor, body, meta))


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: UserId, _: AdminPrincipal, admin: AdminServiceDep) -> UserOut:
    return UserOut.of(await admin.get_user(user_id))


@router.patch("/users/{user_id}", response_model=UserOut, responses=_EDIT_CONFLICT)
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


@router.delete(
    "/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_LAST_ADMIN_409
)
async def delete_user(
    user_id: UserId, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> None:
    await admin.delete_user(actor, user_id, meta)


@router.post("/users/{user_id}/disable", response_model=UserOut, responses=_LAST_ADMIN_409)
async def disable_user(
    user_id: UserId, actor: AdminPrincipal, admin: AdminServiceDep, meta: MetaDep
) -> UserOut:
    return UserOut.of(
        await admin.update_user(actor, user_id, AdminUserPatch(is_active=False), meta)
    )


@router.put("/users/{user_id}/role", response_model=UserOut, responses=_LAST_ADMIN_409)
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
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    username: Username = None,
    since: Since = None,
    until: Until = None,
    before: Before = None,
    before_id: BeforeId = None,
) -> list[dict[str, Any]]:
    """Newest first (by `timestamp`, then `id`); `type` filters on event_type
    (e.g. login_failed), `user_id`/`username` on the user, `since`/`until` on
    the time; the next page is `before`/`before_id` = the last row's
    `timestamp`/`id`."""
    return await admin.security_events(
        limit=limit,
        event_type=type,
        user_id=user_id,
        username=username,
        since=_utc(since),
        until=_utc(until),
        before=_cursor(before, before_id),
    )


@router.get("/activity")
async def activity(
    _: AdminPrincipal,
    admin: AdminServiceDep,
    limit: Limit = 100,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=_PRINTABLE,
            description="exactly, e.g. login, admin.user_update, POST /api/crypto/backtest/batch",
        ),
    ] = None,
    username: Username = None,
    since: Since = None,
    until: Until = None,
    before: Before = None,
    before_id: BeforeId = None,
) -> list[dict[str, Any]]:
    """Newest first, optionally one user's (`user_id` or `username`), one
    `action`'s (e.g. login) and a time range; paged like the security events."""
    return await admin.activity(
        limit=limit,
        user_id=user_id,
        action=action,
        username=username,
        since=_utc(since),
        until=_utc(until),
        before=_cursor(before, before_id),
    )
