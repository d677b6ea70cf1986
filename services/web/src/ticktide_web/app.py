"""Wiring of the web service: settings, the built static files, the template
environment, the HTTP client of the gateway's API, the page routers (every
module of `ticktide_web.pages`), `/static`, and how errors become pages.

The service holds no SQL and no bus connection: it reads and writes only
through the gateway's API with the caller's own credentials."""

from __future__ import annotations

import importlib
import os
import pkgutil
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticktide_common.health import ReadinessCheck, health_router
from ticktide_common.logging import get_logger
from ticktide_common.proxy_trust import TrustedProxyMiddleware
from ticktide_web import pages
from ticktide_web.api import ApiError, ApiSession
from ticktide_web.assets import DEFAULT_BUILD_DIR, AssetManifest
from ticktide_web.deps import SignInRequired, WebState
from ticktide_web.rendering import PageContext, build_environment, login_redirect
from ticktide_web.settings import WebSettings, get_settings

__all__ = ["create_app", "SERVICE"]

SERVICE = "web"
STATIC_CACHE = "public, max-age=31536000, immutable"

log = get_logger(__name__)


def _page_routers() -> list[Any]:
    routers = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        routers.append(module.router)
    return routers


def create_app(settings: WebSettings | None = None, build_dir: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    assets = AssetManifest.load(DEFAULT_BUILD_DIR if build_dir is None else Path(build_dir))
    env = build_environment(assets)
    checks: dict[str, ReadinessCheck] = {}
    instance = {
        "instance": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[WebState]:
        async with AsyncExitStack() as stack:
            http = httpx.AsyncClient(
                base_url=settings.gateway_url,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                follow_redirects=False,
            )
            stack.push_async_callback(http.aclose)

            async def gateway_alive() -> None:
                response = await http.get("/health", timeout=2.0)
                response.raise_for_status()

            checks["gateway"] = gateway_alive
            log.info("web.started", port=settings.web_port, gateway=settings.gateway_url)
            yield WebState(settings=settings, http=http, env=env, assets=assets)
            log.info("web.stopping")

    app = FastAPI(
        title="Ticktide web",
        version=settings.ticktide_version,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        # Richer than the shared /health: the gateway's service list shows this instance.
        return {
            "status": "ok",
            "service": SERVICE,
            "version": settings.ticktide_version,
            **instance,
        }

    app.include_router(health_router(SERVICE, settings.ticktide_version, lambda: checks))

    @app.get("/static/{name:path}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        found = assets.get(name)
        if found is None:
            return Response("no such file\n", status_code=404, media_type="text/plain")
        headers = {"cache-control": STATIC_CACHE, "vary": "Accept-Encoding"}
        if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(found.gzipped, media_type=found.content_type, headers=headers)
        return Response(found.content, media_type=found.content_type, headers=headers)

    for router in _page_routers():
        app.include_router(router)

    def _context(request: Request) -> PageContext:
        existing = getattr(request.state, "page", None)
        if isinstance(existing, PageContext):
            return existing
        return PageContext(request, ApiSession(request.state.http, request), None, env)

    async def _error_page(
        request: Request, status: int, heading: str, message: str, template: str = "error.html"
    ) -> HTMLResponse:
        page = _context(request)
        if page.me is None and "cookie" in request.headers:
            try:
                page.me = await page.api.me()
            except ApiError:
                page.me = None
        return page.render(
            template, title=heading, status_code=status, heading=heading, message=message
        )

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401:
            return login_redirect(request)
        if exc.status == 403:
            return await _error_page(request, 403, "Forbidden", exc.message, "forbidden.html")
        if exc.status == 404:
            return await _error_page(request, 404, "Not found", exc.message)
        status = exc.status if exc.status < 500 else (503 if exc.status == 503 else 502)
        return await _error_page(request, status, "Something went wrong", exc.message)

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return await _error_page(request, 404, "Not found", "There is no page at this address.")
        if exc.status_code == 405:
            return await _error_page(request, 405, "Not allowed", "This page cannot do that.")
        return await _error_page(request, exc.status_code, "Error", str(exc.detail))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return await _error_page(
            request, 400, "Bad request", "The address or form was not understood."
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("web.page_failed", path=request.url.path, error=repr(exc))
        return HTMLResponse(
            "<!doctype html><html lang=en><title>Error · Ticktide</title>"
            "<h1>Something went wrong</h1><p role=alert>The page failed; it was logged.</p>",
            status_code=500,
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(Exception, unexpected)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return RedirectResponse(assets.url("img/favicon.svg"), status_code=301)

    # The client and scheme the gateway forwarded, believed only with the proxy secret.
    app.add_middleware(TrustedProxyMiddleware, secret=settings.ticktide_proxy_secret)
    return app
