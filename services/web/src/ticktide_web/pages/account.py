"""`/account`: change the password (which ends the other sessions and revokes
every API token) and manage personal API tokens: create (shown once; needs the
current password, with an optional lifetime in days), list with their expiry
and last use, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.rendering import PageContext
from ticktide_web.settings import WebSettings

router = APIRouter()

FormText = Annotated[str, Form(max_length=4096)]


async def _render(page: PageContext, status_code: int = 200, **context: Any) -> Response:
    tokens = await page.api.get("/api/auth/tokens")
    # Revoked tokens are gone for good; expired ones stay listed, marked, until revoked.
    active = [t for t in tokens if t.get("state", "live") != "revoked"]
    settings: WebSettings = page.request.state.settings
    return page.render(
        "account.html",
        title="Account",
        status_code=status_code,
        tokens=active,
        max_days=settings.api_token_max_days,
        default_days=settings.api_token_default_days,
        max_tokens=settings.api_token_max_live_per_user,
        token_name=context.pop("token_name", ""),
        expires=context.pop("expires", ""),
        **context,
    )


@router.get("/account")
async def account(page: PageDep, notice: str = "") -> Response:
    messages = {
        "password": "Your password was changed; your other sessions and API tokens ended.",
        "revoked": "The token was revoked.",
    }
    return await _render(page, notice=messages.get(notice))


@router.post("/account/password")
async def change_password(
    page: PageDep,
    csrf_token: FormText = "",
    current_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    if new_password != confirm_password:
        return await _render(
            page, 422, error="The new password and its confirmation differ.", section="password"
        )
    try:
        await page.api.call(
            "POST",
            "/api/auth/password",
            json={"current_password": current_password, "new_password": new_password},
            csrf_token=csrf_token,
        )
    except ApiError as exc:
        if exc.status == 401 and "current" not in exc.message.lower():
            raise
        return await _render(page, 422 if exc.status < 500 else exc.status, error=exc.message)
    return RedirectResponse("/account?notice=password", status_code=303)


@router.post("/account/tokens")
async def create_token(
    page: PageDep,
    csrf_token: FormText = "",
    name: FormText = "",
    password: FormText = "",
    expires_in_days: FormText = "",
) -> Response:
    body: dict[str, Any] = {"name": name.strip(), "password": password}
    if expires_in_days.strip():
        if not expires_in_days.strip().isdigit():
            return await _render(
                page, 422, error="Expiry must be a whole number of days.", token_name=name
            )
        body["expires_in_days"] = int(expires_in_days)
    try:
        created = await page.api.call("POST", "/api/auth/tokens", json=body, csrf_token=csrf_token)
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return await _render(
            page, exc.status, error=exc.message, token_name=name, expires=expires_in_days
        )
    return await _render(page, 201, created=created, notice="Token created.")


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(page: PageDep, token_id: int, csrf_token: FormText = "") -> Response:
    await page.api.call("DELETE", f"/api/auth/tokens/{token_id}", csrf_token=csrf_token)
    return RedirectResponse("/account?notice=revoked", status_code=303)
