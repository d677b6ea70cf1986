"""`CachedAnswersMiddleware` as pure ASGI: which requests reach an answerer, and
that every other request, and every request its answerer declines, reaches the
application unchanged."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.types import Message, Receive, Scope, Send

from ticktide_gateway.cached_answers import CachedAnswersMiddleware
from ticktide_gateway.request_metrics import ROUTE_LABEL_SCOPE_KEY, route_template


class App:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append(scope["path"])
        await Response(b"from the app")(scope, receive, send)


def _scope(path: str, method: str = "GET", kind: str = "http") -> dict[str, Any]:
    return {
        "type": kind,
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [],
    }


async def _run(middleware: CachedAnswersMiddleware, scope: dict[str, Any]) -> bytes:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_an_answer_is_served_and_labelled_by_its_path() -> None:
    app, asked = App(), []

    async def answer(request: Request) -> Response | None:
        asked.append(request.url.path)
        return Response(b"cached")

    middleware = CachedAnswersMiddleware(app, {"/api/x": answer})
    scope = _scope("/api/x")
    assert await _run(middleware, scope) == b"cached"
    assert asked == ["/api/x"] and app.calls == []
    assert scope[ROUTE_LABEL_SCOPE_KEY] == "/api/x" == route_template(scope)


async def test_everything_else_reaches_the_app() -> None:
    app, asked = App(), []

    async def decline(request: Request) -> Response | None:
        asked.append(request.method)
        return None

    middleware = CachedAnswersMiddleware(app, {"/api/x": decline})
    for scope in (
        _scope("/api/x"),  # declined: a miss, a bad query, a refused credential
        _scope("/api/x", method="POST"),
        _scope("/api/x", method="HEAD"),
        _scope("/api/x/y"),
        _scope("/api/y"),
    ):
        assert await _run(middleware, scope) == b"from the app"
        assert ROUTE_LABEL_SCOPE_KEY not in scope
    assert asked == ["GET"]
    assert app.calls == ["/api/x", "/api/x", "/api/x", "/api/x/y", "/api/y"]
