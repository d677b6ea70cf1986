"""How a page becomes HTML: the Jinja environment (autoescaped, our templates
only), the navigation, and `PageContext`, which every page handler receives:
the request, the API as the signed-in user sees it, who that user is, and
`render`, which adds what every template needs (the user, their CSRF token for
forms, asset URLs, the navigation) and marks the answer `no-store`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ticktide_web.api import ApiSession, Me
from ticktide_web.assets import PACKAGE_DIR, AssetManifest

__all__ = [
    "NAVIGATION",
    "PageContext",
    "build_environment",
    "login_redirect",
    "safe_next",
    "relay_cookies",
]

# (label, path, admin only): the contract's link names (CONTRACT §3).
NAVIGATION: tuple[tuple[str, str, bool], ...] = (
    ("Dashboard", "/", False),
    ("Crypto", "/crypto", False),
    ("Stocks", "/stocks", False),
    ("Weather", "/weather", False),
    ("Backtests", "/backtests", False),
    ("Performance", "/performance", False),
    ("Services", "/services", False),
    ("Admin", "/admin/users", True),
)


def _when(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        value = parsed
    return value.strftime(fmt) + (" UTC" if "%H" in fmt else "")


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,.{digits}f}"


def _percent(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{float(value):+.{digits}f} %"


def build_environment(assets: AssetManifest) -> Environment:
    env = Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = assets.url
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.filters["percent"] = _percent
    return env


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after signing in; anything else → `default`
    (no open redirects: no scheme, no host, no `//` or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 0x20 for c in target) or "://" in target.split("?")[0]:
        return default
    if target.startswith(("/login", "/logout", "/register")):
        return default
    return target


def login_redirect(request: Request) -> RedirectResponse:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(safe_next(wanted), safe='/')}", status_code=303)


def relay_cookies(response: Response, api: ApiSession) -> Response:
    """Pass the API's Set-Cookie answers (sign in, sign out) on to the browser."""
    for cookie in api.set_cookies:
        response.headers.append("set-cookie", cookie)
    return response


@dataclass
class PageContext:
    request: Request
    api: ApiSession
    me: Me | None
    env: Environment

    def render(
        self, template: str, *, title: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        path = self.request.url.path
        nav = [
            {"label": label, "href": href, "current": _is_current(path, href)}
            for label, href, admin_only in NAVIGATION
            if self.me is not None and (not admin_only or self.me.is_admin)
        ]
        html = self.env.get_template(template).render(
            title=title,
            me=self.me,
            csrf_token=self.me.csrf_token if self.me else "",
            nav=nav,
            path=path,
            error=context.pop("error", None),
            notice=context.pop("notice", None),
            scripts=context.pop("scripts", ()),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers["cache-control"] = "no-store"
        relay_cookies(response, self.api)
        return response


def _is_current(path: str, href: str) -> bool:
    if href == "/":
        return path == "/"
    if href == "/admin/users":
        return path.startswith("/admin")
    return path == href or path.startswith(href + "/")
