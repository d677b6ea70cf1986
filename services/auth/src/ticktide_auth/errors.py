"""The auth service's typed errors and how each becomes a response: a clear
4xx `{"detail": ...}` for what the caller did (a refused credential as
`ticktide_common.principal_resolver` words it), 503 when Redis or PostgreSQL is
unreachable (fail closed), and a bare 500 for anything unexpected. A 405 lists
in `Allow` every method of the path (`ticktide_common.allow_header`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticktide_common.accounts.policy import PolicyError
from ticktide_common.allow_header import http_error_with_allow
from ticktide_common.logging import get_logger
from ticktide_common.principal_resolver import PrincipalRejected

__all__ = [
    "AuthApiError",
    "NotAuthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "TooManyAttempts",
    "install_error_handlers",
]

log = get_logger(__name__)


class AuthApiError(Exception):
    """An answer to the caller: status, detail and optional headers."""

    status_code = 400

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotAuthenticated(AuthApiError):
    """No valid session or token (401)."""

    status_code = 401


class Forbidden(AuthApiError):
    """Authenticated, but not allowed: wrong role or missing CSRF token (403)."""

    status_code = 403


class NotFound(AuthApiError):
    """No such user or token, or not the caller's (404)."""

    status_code = 404


class Conflict(AuthApiError):
    """A duplicate or a change that would leave no admin (409)."""

    status_code = 409


class TooManyAttempts(AuthApiError):
    """Login or registration throttled (429, with Retry-After)."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, {"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "body", "path", "header"):
        rest = ".".join(parts[1:])
        return f"{parts[0]} field '{rest}'" if rest else f"request {parts[0]}"
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: never the input back (it may be a password, or 1 MB).
    items = [
        {"field": _location(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request"
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _policy_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthApiError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _principal_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PrincipalRejected)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("redis.unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(
        {"detail": "session store unavailable (Redis); try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("postgres.unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(
        {"detail": "user database unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.failed", path=request.url.path, error=repr(exc))
    return JSONResponse({"detail": "internal error; the auth service logged it"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error_with_allow)
    app.add_exception_handler(PolicyError, _policy_error)
    app.add_exception_handler(AuthApiError, _api_error)
    app.add_exception_handler(PrincipalRejected, _principal_rejected)
    app.add_exception_handler(RedisError, _redis_down)
    for db_error in (
        OSError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.ConnectionDoesNotExistError,
    ):
        app.add_exception_handler(db_error, _database_down)
    app.add_exception_handler(Exception, _unexpected)
