"""Pure pieces: the last-admin rule, the exact cookie lines, the body limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Request

from ticktide_auth.admin_service import removes_admin
from ticktide_auth.cookies import expired_cookie, session_cookie
from ticktide_auth.repository import UserRow
from ticktide_common.body_limit import BodyLimitMiddleware

ADMIN = UserRow(1, "root", "r@example.com", "h", "admin", True, datetime.now(UTC), None)


@pytest.mark.parametrize(
    ("after", "removes"),
    [
        (ADMIN, False),
        (replace(ADMIN, email="new@example.com"), False),
        (replace(ADMIN, role="user"), True),
        (replace(ADMIN, is_active=False), True),
        (None, True),
    ],
)
def test_removes_admin(after: UserRow | None, removes: bool) -> None:
    assert removes_admin(ADMIN, after) is removes


def test_changes_to_non_admins_never_remove_an_admin() -> None:
    user = replace(ADMIN, role="user")
    disabled_admin = replace(ADMIN, is_active=False)
    assert not removes_admin(user, None)
    assert not removes_admin(user, replace(user, is_active=False))
    assert not removes_admin(disabled_admin, replace(disabled_admin, role="user"))


def test_cookie_lines() -> None:
    assert session_cookie("__Host-s", "tok", 43200) == (
        "__Host-s=tok; Max-Age=43200; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    expired = expired_cookie("__Host-s")
    assert expired.startswith('__Host-s=""; Max-Age=0;') and "Domain" not in expired


def limited_app() -> BodyLimitMiddleware:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return BodyLimitMiddleware(app, max_bytes=100)


async def test_body_limit() -> None:
    transport = httpx.ASGITransport(app=limited_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/echo", content=b"x" * 100)).json() == {"bytes": 100}
        too_big = await http.post("/echo", content=b"x" * 101)
        assert too_big.status_code == 413 and "limit 100 bytes" in too_big.json()["detail"]

        async def chunks():  # no Content-Length: counted while it streams
            for _ in range(5):
                yield b"x" * 30

        streamed = await http.post("/echo", content=chunks())
        assert streamed.status_code == 413
