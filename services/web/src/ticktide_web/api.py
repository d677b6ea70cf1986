"""The web service's one client of the gateway's API. Every page asks through
it, with the signed-in user's own credentials (the session cookie the browser
sent, and for state-changing calls the CSRF token the page's form carried), so
the gateway checks every permission exactly as it does for the browser's own
requests. The client's address and the request id travel along, so the auth
service throttles and logs the real client, not this service.

An answer that is not 2xx becomes an `ApiError` carrying the API's message
and, for a 422, its per-field messages; pages show them, never a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

from ticktide_common.logging import get_logger
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER, client_address

__all__ = ["ApiError", "ApiSession", "Me", "field_errors", "API_TIMEOUT_SECONDS"]

log = get_logger(__name__)

API_TIMEOUT_SECONDS = 20.0
_FORWARDED = ("cookie", "user-agent", "accept-language")


@dataclass
class ApiError(Exception):
    """A non-2xx answer of the API (or none at all: status 503)."""

    status: int
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)
    retry_after: str | None = None
    # The error objects as the API sent them (the rule language's carry code, span, hint).
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


@dataclass(frozen=True)
class Me:
    """The signed-in user as `GET /api/auth/me` describes them."""

    id: int
    username: str
    role: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _message(body: Any, status: int) -> tuple[str, list[dict[str, str]]]:
    if isinstance(body, dict):
        detail = body.get("detail")
        errors = body.get("errors")
        items = (
            [
                {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                for e in errors
                if isinstance(e, dict)
            ]
            if isinstance(errors, list)
            else []
        )
        if isinstance(detail, str) and detail:
            return detail, items
        if isinstance(detail, list):  # FastAPI's default validation shape
            parts = [
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg', 'invalid')}"
                for d in detail
                if isinstance(d, dict)
            ]
            return "; ".join(parts) or "invalid request", items
    return f"the API answered {status}", []


def field_errors(error: ApiError, fields: tuple[str, ...] = ()) -> dict[str, str]:
    """Per-field messages keyed by the plain field name (`body field 'email'` →
    `email`), for forms that put each message beside its input. A single message
    that starts with one of `fields` ("email is not a valid address") is that
    field's."""
    found: dict[str, str] = {}
    if not error.errors and error.status == 422:
        first = error.message.split(" ", 1)[0].lower()
        if first in fields:
            found[first] = error.message
    for item in error.errors:
        name = item["field"]
        if "'" in name:
            name = name.split("'")[1]
        name = name.rsplit(".", 1)[-1]
        found.setdefault(name, item["message"])
    return found


class ApiSession:
    """The gateway's API as one browser request's user sees it."""

    def __init__(self, http: httpx.AsyncClient, request: Request) -> None:
        self._http = http
        headers = {
            name: request.headers[name].strip(" \t")
            for name in _FORWARDED
            if name in request.headers
        }
        # The gateway forwarded the page with the client's address and the proxy
        # secret; pass both on (a direct caller is its socket's address).
        secret = request.state.settings.ticktide_proxy_secret
        client = client_address(
            request.client.host if request.client is not None else None,
            request.headers.get("x-forwarded-for"),
            request.headers.get(PROXY_SECRET_HEADER),
            secret,
        )
        if client is not None:
            headers["x-forwarded-for"] = client
            if secret:
                headers[PROXY_SECRET_HEADER] = secret
        request_id = request.headers.get("x-request-id")
        if request_id:
            headers["x-request-id"] = request_id
        headers["accept"] = "application/json"
        self._headers = headers
        self.set_cookies: list[str] = []  # Set-Cookie answers to relay to the browser

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        csrf_token: str | None = None,
    ) -> Any:
        headers = dict(self._headers)
        if csrf_token:
            headers["x-csrf-token"] = csrf_token
        try:
            response = await self._http.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                json=json,
                headers=headers,
                timeout=API_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            log.error("web.api_unreachable", path=path, error=repr(exc))
            raise ApiError(503, "the API is unavailable right now; try again shortly") from exc
        self.set_cookies.extend(response.headers.get_list("set-cookie"))
        if response.status_code == 204:
            return None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            message, items = _message(body, response.status_code)
            if response.status_code >= 500:
                log.warning("web.api_error", path=path, status=response.status_code, detail=message)
            details = body.get("errors") if isinstance(body, dict) else None
            raise ApiError(
                response.status_code,
                message,
                items,
                response.headers.get("retry-after"),
                [e for e in details if isinstance(e, dict)] if isinstance(details, list) else [],
            )
        return body

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def me(self) -> Me | None:
        """The signed-in user, or None when the cookie is missing or no longer valid."""
        if "cookie" not in self._headers:
            return None
        try:
            body = await self.get("/api/auth/me")
        except ApiError as exc:
            if exc.status == 401:
                return None
            raise
        return Me(
            id=int(body["id"]),
            username=str(body["username"]),
            role=str(body["role"]),
            csrf_token=str(body.get("csrf_token") or ""),
        )
