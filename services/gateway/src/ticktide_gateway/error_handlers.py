"""How failures become responses: bad input → 4xx `{"detail": ...}` saying what
was wrong; anything unexpected → a JSON 500 without internals (logged here). A
405 lists in `Allow` every method the path has (`ticktide_common.allow_header`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticktide_common.allow_header import allowed_methods, http_error_with_allow
from ticktide_common.logging import get_logger
from ticktide_gateway.deps import UnknownSymbol
from ticktide_gateway.validation import InvalidQuery

__all__ = ["install_error_handlers", "describe_validation_errors", "allowed_methods"]

log = get_logger(__name__)


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "body", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where} parameter '{'.'.join(rest)}'" if rest else f"request {where}"
    return ".".join(parts)


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """One readable sentence and a list of {"field", "message"}."""
    items = [
        {"field": _location(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
        for e in errors
    ]
    return "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request", items


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, items = describe_validation_errors(exc.errors())
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _invalid_query(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _unknown_symbol(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownSymbol)
    return JSONResponse(
        {"detail": f"unknown symbol '{exc.symbol}'; GET /api/crypto/symbols lists the known ones"},
        status_code=404,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.failed", path=request.url.path, error=repr(exc))
    return JSONResponse({"detail": "internal error; the gateway logged it"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error_with_allow)
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.add_exception_handler(UnknownSymbol, _unknown_symbol)
    app.add_exception_handler(Exception, _unexpected)
