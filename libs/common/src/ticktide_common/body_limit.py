"""Refuse request bodies over a size limit (413, JSON detail) before anything
parses them, with a limit per route prefix: most bodies are a few hundred bytes,
and a megabyte "password" or a ten-megabyte grid is an attack.

Both the declared `Content-Length` and the bytes actually streamed (a chunked
body declares none) are checked. The rest of a too-large body is read and
dropped (up to `DRAIN_BYTES`, discarded as it arrives) before answering, so the
client, still sending, reads a clean 413 rather than a reset connection; beyond
that the connection is simply closed.

`read_bounded_body` is the same bound for a route that reads its own body (a
forwarded request, an uploaded archive): `BodyTooLarge` past `limit` bytes,
declared or streamed."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "BodyTooLarge", "DRAIN_BYTES", "read_bounded_body"]

DRAIN_BYTES = 16 * 1024 * 1024
_MAX_LENGTH_DIGITS = 18  # a longer Content-Length is beyond any limit (and any int64)


class BodyTooLarge(Exception):
    """A request's body is larger than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_bounded_body(request: Request, limit: int) -> bytes:
    """The whole body of `request`, or `BodyTooLarge` as soon as its declared
    length or the bytes streamed so far exceed `limit` (the rest is not read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyLimitMiddleware:
    """Reads at most the route's limit + 1 bytes of the body, then replays it to the
    app. `limits` are (path prefix, bytes), the first matching prefix wins;
    `max_bytes` is every other route's limit."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, limits: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = tuple(limits)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = _declared_length(value)
                if declared > limit:
                    if declared <= DRAIN_BYTES:
                        await _drain(receive)
                    await _too_large(send, limit)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):
                    await _drain(receive, size)
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _declared_length(value: bytes) -> int:
    """The declared length; anything unreadable counts as too large."""
    if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
        return DRAIN_BYTES + 1
    return int(value)


async def _drain(receive: Receive, already: int = 0) -> None:
    size = already
    while size <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _too_large(send: Send, limit: int) -> None:
    payload = json.dumps({"detail": f"request body too large (limit {limit} bytes)"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
