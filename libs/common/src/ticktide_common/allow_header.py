"""A 405's `Allow` header naming every method of the path, for any FastAPI app.

Starlette answers 405 with the methods of the first route whose path matched,
and FastAPI makes one route per method: `GET`, `PATCH` and `DELETE` of
`/users/{id}` are three routes, so `OPTIONS /users/1` said `Allow: GET` only.
`http_error_with_allow` is the `HTTPException` handler that fixes the header
and otherwise answers as FastAPI's own handler does."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["allowed_methods", "http_error_with_allow"]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of every documented route whose template matches `path`, sorted."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if context.path_regex.match(path):
            methods |= set(context.methods or ())
    return sorted(methods)


async def http_error_with_allow(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an `HTTPException`; a 405 lists in `Allow` every method
    the path has (its own header is kept when no documented route matches)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, exc)
