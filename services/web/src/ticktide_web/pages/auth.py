"""`/login`, `/register` and `/logout`: plain forms posted to this service,
which signs in through the API and passes the session cookie on to the
browser. After signing in the visitor goes back to the page they asked for
(`next`, a local path only).

The API answers a registration alike whether or not the username or address
was taken (issue 10), so `/register` signs in with what was typed: success
means the account is there; a refused sign-in means it was not created (most
likely the name or address is registered already), said without telling which."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ticktide_web.api import ApiError, field_errors
from ticktide_web.deps import PublicPageDep
from ticktide_web.rendering import PageContext, relay_cookies, safe_next

router = APIRouter()

FormText = Annotated[str, Form(max_length=4096)]


def _login_message(error: ApiError) -> str:
    if error.status == 401:
        return "Wrong username or password."
    if error.status == 429:
        wait = f" Try again in {error.retry_after} seconds." if error.retry_after else ""
        return "Too many failed sign-ins." + wait
    return error.message


@router.get("/login")
async def login_form(page: PublicPageDep, next: str = "/", signed_out: int = 0) -> Response:
    if page.me is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page.render(
        "login.html",
        title="Sign in",
        next=safe_next(next),
        username="",
        notice="You have signed out." if signed_out else None,
    )


@router.post("/login")
async def login(
    page: PublicPageDep,
    username: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    target = safe_next(next)
    try:
        await page.api.call(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
    except ApiError as exc:
        status = exc.status if exc.status in (401, 422, 429) else 503
        return page.render(
            "login.html",
            title="Sign in",
            status_code=status,
            next=target,
            username=username,
            error=_login_message(exc) if exc.status != 422 else "Enter your username and password.",
        )
    return relay_cookies(RedirectResponse(target, status_code=303), page.api)


@router.get("/register")
async def register_form(page: PublicPageDep) -> Response:
    if page.me is not None:
        return RedirectResponse("/", status_code=303)
    return page.render("register.html", title="Create account", values={}, errors={})


@router.post("/register")
async def register(
    page: PublicPageDep,
    username: FormText = "",
    email: FormText = "",
    password: FormText = "",
) -> Response:
    values = {"username": username, "email": email}
    try:
        await page.api.call(
            "POST",
            "/api/auth/register",
            json={"username": username, "email": email, "password": password},
        )
    except ApiError as exc:
        return _register_refused(page, values, exc)
    try:
        await page.api.call(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
    except ApiError as exc:
        if exc.status != 401:
            return _register_refused(page, values, exc)
        return page.render(
            "register.html",
            title="Create account",
            status_code=409,
            values=values,
            errors={},
            error=NOT_CREATED,
        )
    return relay_cookies(RedirectResponse("/", status_code=303), page.api)


NOT_CREATED = (
    "That account could not be created: the username or the email address may be "
    "registered already. If it is yours, sign in; otherwise choose another."
)


def _register_refused(page: PageContext, values: dict[str, str], exc: ApiError) -> Response:
    """The form again, with what the API refused beside its field."""
    errors = field_errors(exc, ("username", "email", "password"))
    return page.render(
        "register.html",
        title="Create account",
        status_code=exc.status if 400 <= exc.status < 500 else 503,
        values=values,
        errors=errors,
        error=_register_message(exc, errors),
    )


def _register_message(error: ApiError, errors: dict[str, str]) -> str:
    if error.status == 429:
        return _login_message(error)
    if errors:
        return "Please correct the fields marked below."
    return error.message


@router.get("/logout")
async def logout_form(page: PublicPageDep) -> Response:
    if page.me is None:
        return RedirectResponse("/login?signed_out=1", status_code=303)
    return page.render("logout.html", title="Sign out")


@router.post("/logout")
async def logout(page: PublicPageDep, csrf_token: FormText = "") -> Response:
    if page.me is not None:
        try:
            await page.api.call("POST", "/api/auth/logout", csrf_token=csrf_token)
        except ApiError as exc:
            if exc.status != 401:
                return page.render(
                    "logout.html", title="Sign out", status_code=exc.status, error=exc.message
                )
    return relay_cookies(RedirectResponse("/login?signed_out=1", status_code=303), page.api)
