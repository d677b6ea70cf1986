"""Which guard a route has, found from its dependencies at any depth."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ticktide_gateway.auth import (
    AdminPrincipal,
    CurrentPrincipal,
    GuardedRoute,
    current_principal,
    require_admin,
)


def routes() -> dict[str, GuardedRoute]:
    users = APIRouter(dependencies=[Depends(current_principal)], route_class=GuardedRoute)
    admins = APIRouter(dependencies=[Depends(require_admin)], route_class=GuardedRoute)
    open_ = APIRouter(route_class=GuardedRoute)

    @users.get("/user")
    async def user_route() -> None: ...

    @users.post("/user-promoted")
    async def promoted(principal: AdminPrincipal) -> None: ...

    @admins.get("/admin")
    async def admin_route(principal: CurrentPrincipal) -> None: ...

    async def nested(principal: CurrentPrincipal) -> int:
        return 1

    @open_.get("/nested")
    async def nested_route(value: int = Depends(nested)) -> None: ...

    @open_.get("/public")
    async def public() -> None: ...

    found = {}
    for router in (users, admins, open_):
        for route in router.routes:
            assert isinstance(route, GuardedRoute)
            found[route.path] = route
    return found


def test_guards() -> None:
    guards = {path: route.guard for path, route in routes().items()}
    assert guards == {
        "/user": "user",
        "/user-promoted": "admin",
        "/admin": "admin",
        "/nested": "user",
        "/public": None,
    }
