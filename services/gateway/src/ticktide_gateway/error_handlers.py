"""How failures become responses: bad input → 4xx `{"detail": ...}` saying what
was wrong; anything unexpected → a JSON 500 without internals (logged here). A
405 lists in `Allow` every method the path has (Starlette names only those of the
first route that matched the path, and FastAPI makes one route per method)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of every documented route whose template matches `path`."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if context.path_regex.match(path):
            methods |= set(context.methods or ())
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.failed", path=request.url.path, error=repr(exc))
    return JSONResponse({"detail": "internal error; the gateway logged it"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.add_exception_handler(UnknownSymbol, _unknown_symbol)
    app.add_exception_handler(Exception, _unexpected)
