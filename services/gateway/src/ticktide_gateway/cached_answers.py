"""Cached answers served before the framework: a pure ASGI middleware that
answers a `GET` of a registered path from the cache when the answer is there,
and hands every other request (a miss, a bad query, a refused credential, any
other path) to the application unchanged.

A cached year of prices is a dictionary lookup and one small Redis read; the
framework's routing over every route, its dependency resolution and its query
model would cost the gateway twice that again on every hit, and the hit is what
charts and a load balancer's worth of clients ask for. The answerer of a path
(`Answerer`, e.g. `crypto.routes.cached_prices`) does the same checks the route
does (the credential, the query), so a request answered here is one the route
would have answered with the same bytes; whenever it is unsure it returns None
and the route decides, errors included.

It sits inside the request metrics and the activity log, so a request answered
here is measured (under its route's path) and recorded like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ticktide_gateway.request_metrics import ROUTE_LABEL_SCOPE_KEY

__all__ = ["Answerer", "CachedAnswersMiddleware", "install_cached_answers"]

Answerer = Callable[[Request], Awaitable[Response | None]]


class CachedAnswersMiddleware:
    def __init__(self, app: ASGIApp, answerers: Mapping[str, Answerer]) -> None:
        self.app = app
        self.answerers = answerers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = self.answerers.get(scope["path"])
        if answer is None:
            await self.app(scope, receive, send)
            return
        response = await answer(Request(scope, receive))
        if response is None:
            await self.app(scope, receive, send)
            return
        scope[ROUTE_LABEL_SCOPE_KEY] = scope["path"]  # its route's template: a fixed path
        await response(scope, receive, send)


def install_cached_answers(app: FastAPI, answerers: Mapping[str, Answerer]) -> None:
    """Serve `answerers` (fixed path -> answerer, each path a GET route of `app`)
    in front of the app's routes."""
    app.add_middleware(CachedAnswersMiddleware, answerers=dict(answerers))
