"""The gateway as the door to the web service's pages: every path outside
`/api` (and the gateway's own /health, /ready, /metrics) is forwarded to
`WEB_URL` after the gateway's one session check.

- Public paths (`/login`, `/register`, `/logout`, `/static/…`, `/favicon.ico`)
  go through as they are; the session, if any, still travels in the cookie.
- Any other page needs a signed-in user: a visitor without a valid session is
  redirected to `/login?next=<the page>` (303), and comes back after signing in.
- `/admin…` pages need the admin role: anyone else gets the web service's
  Forbidden page with status 403, never the admin page's content.
- Redis or PostgreSQL failing during the check answers 503: fail closed.

The web service then reads and writes through the API with the same cookie,
so every permission is checked here, in one place. The forwarded request carries
the client's address and the proxy secret (`forwarding`), so that the web
service's own API calls, which pass both on, still count the real client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from ticktide_gateway import forwarding
from ticktide_gateway.auth import identify
from ticktide_gateway.request_metrics import ROUTE_LABEL_SCOPE_KEY
from ticktide_gateway.settings import GatewaySettings

__all__ = [
    "install_page_forwarding",
    "forward_page",
    "is_public_page",
    "is_admin_page",
    "login_location",
]

PUBLIC_PATHS = frozenset({"/login", "/register", "/logout", "/favicon.ico", "/robots.txt"})
PUBLIC_PREFIXES = ("/static/",)
ADMIN_PREFIX = "/admin"
PAGE_METHODS = ["GET", "HEAD", "POST"]
TIMEOUT_SECONDS = 30.0
FORBIDDEN_PAGE = "/forbidden"


def is_public_page(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_admin_page(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def login_location(path: str, query: str) -> str:
    """`/login?next=…` for a page: only the local path and query travel."""
    wanted = path + (f"?{query}" if query else "")
    return "/login?next=" + quote(wanted, safe="/")


KNOWN_PAGES = frozenset(
    {
        "",
        "login",
        "register",
        "logout",
        "account",
        "crypto",
        "stocks",
        "weather",
        "backtests",
        "performance",
        "services",
        "admin",
        "static",
        "forbidden",
    }
)


def page_label(path: str) -> str:
    """The metrics label of a page: `page /<first segment>` for the known pages,
    `page <other>` for anything else (a bounded set, whatever the paths)."""
    first = path.lstrip("/").split("/", 1)[0]
    return f"page /{first}" if first in KNOWN_PAGES else "page <other>"


def _not_ours(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


async def forward_page(request: Request) -> Response:
    settings: GatewaySettings = request.state.settings
    http: httpx.AsyncClient = request.state.http
    path = request.url.path
    extra: dict[str, Any] = {}
    if not is_public_page(path):
        try:
            principal = await identify(request)
        except HTTPException as exc:
            if exc.status_code == 401:
                return RedirectResponse(login_location(path, request.url.query), status_code=303)
            return PlainTextResponse(
                f"{exc.detail}\n", status_code=exc.status_code, headers={"Retry-After": "5"}
            )
        if is_admin_page(path) and not principal.is_admin:
            extra = {"path": FORBIDDEN_PAGE, "method": "GET", "status_code": 403}
    return await forwarding.forward(
        request,
        http,
        settings.web_url,
        service="web",
        timeout=TIMEOUT_SECONDS,
        proxy_secret=settings.ticktide_proxy_secret,
        **extra,
    )


def install_page_forwarding(app: FastAPI) -> None:
    """Pages are what no route of the gateway matched: the router's default, so
    the order of the routers does not matter, and a path that matched a route
    with another method keeps its 405. `/api…` keeps the JSON 404."""
    not_found = app.router.not_found

    async def pages(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or _not_ours(path) or scope.get("method") not in PAGE_METHODS:
            await not_found(scope, receive, send)
            return
        scope[ROUTE_LABEL_SCOPE_KEY] = page_label(path)
        response = await forward_page(Request(scope, receive))
        await response(scope, receive, send)

    app.router.default = pages
