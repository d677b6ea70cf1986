"""`/admin/users` and its forms, after Django's admin: the list (search, role
and status filters, keyset pages of `PAGE_SIZE`), `/admin/users/add`,
`/admin/users/<id>/edit`, and a confirmation page before disabling or
deleting. Plain forms posted here; each calls the admin API with the form's
CSRF token and comes back to the list with a notice naming the user (or, on an
error, shows the same form with what was typed and each message beside its
field). The API decides what is allowed (e.g. never removing the last active
administrator); its refusal is shown as it says it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path
from fastapi.responses import RedirectResponse, Response

from ticktide_web.api import ApiError, field_errors
from ticktide_web.deps import PageDep
from ticktide_web.rendering import PageContext

router = APIRouter()

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
ROLES = (("user", "user"), ("admin", "admin"))
ADD_FIELDS = ("username", "email", "password", "role")
EDIT_FIELDS = ("email", "role", "is_active", "password")

FormText = Annotated[str, Form(max_length=4096)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _list_url(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "/admin/users" + (f"?{urlencode(kept)}" if kept else "")


def _form_status(error: ApiError) -> int:
    """The status of a form shown again after the API refused it."""
    return error.status if 400 <= error.status < 500 else 503


def _api_refusal(error: ApiError) -> None:
    """Errors no form can fix become their own page (sign in again, Forbidden)."""
    if error.status in (401, 403):
        raise error


# -- the list ------------------------------------------------------------------


async def _notice(page: PageContext, params: dict[str, str]) -> str | None:
    """The message after an action; ids are looked up so a crafted link cannot
    put words in the page (a deleted user's name is only quoted back)."""
    deleted = params.get("deleted", "")
    if deleted:
        return f"User {deleted[:64]} was deleted; their sessions ended."
    done = {
        "created": "User {} was created.",
        "saved": "User {} was saved.",
        "disabled": "User {} was disabled; their sessions ended.",
        "enabled": "User {} was enabled.",
    }
    for key, text in done.items():
        value = params.get(key, "")
        if value.isdigit() and 1 <= int(value) <= MAX_ID:
            try:
                user = await page.api.get(f"/api/admin/users/{int(value)}")
            except ApiError as exc:
                if exc.status == 404:
                    return None
                raise
            return text.format(user["username"])
    return None


@router.get("/admin/users")
async def users_list(
    page: PageDep,
    search: str = "",
    role: str = "",
    active: str = "",
    after: str = "",
    created: str = "",
    saved: str = "",
    disabled: str = "",
    enabled: str = "",
    deleted: str = "",
) -> Response:
    search = search.strip()[:100]
    role = role if role in ("user", "admin") else ""
    active = active if active in ("1", "0") else ""
    cursor = int(after) if after.isdigit() and int(after) <= MAX_ID else None
    error = None
    rows: list[dict[str, Any]] = []
    try:
        rows = await page.api.get(
            "/api/admin/users",
            search=search or None,
            role=role or None,
            active={"1": "true", "0": "false"}.get(active),
            after=cursor,
            limit=PAGE_SIZE + 1,
        )
    except ApiError as exc:
        _api_refusal(exc)
        if exc.status >= 500:
            raise
        error = exc.message
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    filters = {"search": search, "role": role, "active": active}
    notice = await _notice(
        page,
        {
            "created": created,
            "saved": saved,
            "disabled": disabled,
            "enabled": enabled,
            "deleted": deleted,
        },
    )
    return page.render(
        "admin_users.html",
        title="Users",
        users=rows,
        filters=filters,
        filtered=any(filters.values()),
        first_page=cursor is None,
        next_url=_list_url(**filters, after=rows[-1]["id"]) if more and rows else None,
        first_url=_list_url(**filters) if cursor is not None else None,
        error=error,
        notice=notice,
    )


# -- add -----------------------------------------------------------------------


async def _which_duplicate(page: PageContext, username: str, email: str) -> dict[str, str]:
    """A 409 names neither field; the admin may know which one is taken."""
    errors: dict[str, str] = {}
    for name, value, message in (
        ("username", username, "A user with this username already exists."),
        ("email", email, "A user with this email address already exists."),
    ):
        if not value.strip():
            continue
        try:
            found = await page.api.get("/api/admin/users", search=value.strip()[:100], limit=20)
        except ApiError:
            continue
        if any(str(u.get(name, "")).lower() == value.strip().lower() for u in found):
            errors[name] = message
    return errors


def _render_add(
    page: PageContext,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return page.render(
        "admin_user_add.html",
        title="Add user",
        status_code=status_code,
        values=values,
        errors=errors or {},
        roles=ROLES,
        error=error,
    )


@router.get("/admin/users/add")
async def add_form(page: PageDep) -> Response:
    return _render_add(page, {"username": "", "email": "", "role": "user"})


@router.post("/admin/users/add")
async def add_user(
    page: PageDep,
    csrf_token: FormText = "",
    username: FormText = "",
    email: FormText = "",
    password: FormText = "",
    role: FormText = "user",
) -> Response:
    values = {"username": username, "email": email, "role": role}
    try:
        created = await page.api.call(
            "POST",
            "/api/admin/users",
            json={"username": username, "email": email, "password": password, "role": role},
            csrf_token=csrf_token,
        )
    except ApiError as exc:
        _api_refusal(exc)
        errors = field_errors(exc, ADD_FIELDS)
        if exc.status == 409:
            errors = await _which_duplicate(page, username, email)
        message = "Please correct the fields marked below." if errors else exc.message
        return _render_add(page, values, errors, _form_status(exc), message)
    return RedirectResponse(_list_url(created=created["id"]), status_code=303)


# -- edit ----------------------------------------------------------------------


def _render_edit(
    page: PageContext,
    user: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    return page.render(
        "admin_user_edit.html",
        title=f"Edit user {user['username']}",
        status_code=status_code,
        user=user,
        values=values,
        errors=errors or {},
        roles=ROLES,
        is_me=page.me is not None and page.me.id == user["id"],
        error=error,
        notice=notice,
    )


@router.get("/admin/users/{user_id}/edit")
async def edit_form(page: PageDep, user_id: UserId) -> Response:
    user = await page.api.get(f"/api/admin/users/{user_id}")
    values = {"email": user["email"], "role": user["role"], "is_active": user["is_active"]}
    return _render_edit(page, user, values)


@router.post("/admin/users/{user_id}/edit")
async def edit_user(
    page: PageDep,
    user_id: UserId,
    csrf_token: FormText = "",
    email: FormText = "",
    role: FormText = "",
    is_active: FormText = "",
    password: FormText = "",
) -> Response:
    user = await page.api.get(f"/api/admin/users/{user_id}")
    active = is_active in ("1", "on", "true")
    values = {"email": email, "role": role, "is_active": active}
    patch: dict[str, Any] = {}
    if email.strip() != user["email"]:
        patch["email"] = email.strip()
    if role != user["role"]:
        patch["role"] = role
    if active != user["is_active"]:
        patch["is_active"] = active
    if password:
        patch["password"] = password
    if not patch:
        return _render_edit(page, user, values, notice="Nothing changed.")
    try:
        await page.api.call(
            "PATCH", f"/api/admin/users/{user_id}", json=patch, csrf_token=csrf_token
        )
    except ApiError as exc:
        _api_refusal(exc)
        if exc.status == 404:
            raise
        errors = field_errors(exc, EDIT_FIELDS)
        if exc.status == 409 and "email" in exc.message:
            errors["email"] = "A user with this email address already exists."
        message = "Please correct the fields marked below." if errors else exc.message
        return _render_edit(page, user, values, errors, _form_status(exc), message)
    return RedirectResponse(_list_url(saved=user_id), status_code=303)


# -- disable, enable, delete ---------------------------------------------------

CONFIRM = {
    "disable": {
        "title": "Disable user {}?",
        "button": "Disable user",
        "style": "btn-warning",
    },
    "delete": {
        "title": "Delete user {}?",
        "button": "Delete user",
        "style": "btn-danger",
    },
}


def _render_confirm(
    page: PageContext,
    action: str,
    user: dict[str, Any],
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    text = CONFIRM[action]
    return page.render(
        "admin_user_confirm.html",
        title=text["title"].format(user["username"]),
        status_code=status_code,
        action=action,
        heading=text["title"].format(user["username"]),
        button=text["button"],
        button_style=text["style"],
        user=user,
        is_me=page.me is not None and page.me.id == user["id"],
        error=error,
    )


@router.get("/admin/users/{user_id}/disable")
async def disable_confirm(page: PageDep, user_id: UserId) -> Response:
    user = await page.api.get(f"/api/admin/users/{user_id}")
    if not user["is_active"]:
        return RedirectResponse(_list_url(disabled=user_id), status_code=303)
    return _render_confirm(page, "disable", user)


@router.post("/admin/users/{user_id}/disable")
async def disable_user(page: PageDep, user_id: UserId, csrf_token: FormText = "") -> Response:
    try:
        await page.api.call("POST", f"/api/admin/users/{user_id}/disable", csrf_token=csrf_token)
    except ApiError as exc:
        _api_refusal(exc)
        if exc.status == 404:
            raise
        user = await page.api.get(f"/api/admin/users/{user_id}")
        return _render_confirm(page, "disable", user, _form_status(exc), exc.message)
    return RedirectResponse(_list_url(disabled=user_id), status_code=303)


@router.post("/admin/users/{user_id}/enable")
async def enable_user(page: PageDep, user_id: UserId, csrf_token: FormText = "") -> Response:
    await page.api.call(
        "PATCH", f"/api/admin/users/{user_id}", json={"is_active": True}, csrf_token=csrf_token
    )
    return RedirectResponse(_list_url(enabled=user_id), status_code=303)


@router.get("/admin/users/{user_id}/delete")
async def delete_confirm(page: PageDep, user_id: UserId) -> Response:
    user = await page.api.get(f"/api/admin/users/{user_id}")
    return _render_confirm(page, "delete", user)


@router.post("/admin/users/{user_id}/delete")
async def delete_user(page: PageDep, user_id: UserId, csrf_token: FormText = "") -> Response:
    user = await page.api.get(f"/api/admin/users/{user_id}")
    try:
        await page.api.call("DELETE", f"/api/admin/users/{user_id}", csrf_token=csrf_token)
    except ApiError as exc:
        _api_refusal(exc)
        if exc.status == 404:
            raise
        return _render_confirm(page, "delete", user, _form_status(exc), exc.message)
    return RedirectResponse(_list_url(deleted=user["username"]), status_code=303)
