"""A lean HTTP/1.1 client for the gateway's hop to ingest-crypto's internal
archive route (plain http:// on the stack's loopback), where every archive upload
crosses once.

Why not the shared httpx client: httpx spends about a millisecond of CPU on each
request (its URL, header, cookie and response models, its auth and redirect
layers, and httpcore's pool checks through anyio), a third of the gateway's CPU
per upload. This client does only what the hop needs: one request with its whole
body, the answer read whole (Content-Length, chunked, or up to the end of the
connection), keep-alive connections reused per host and port, and bounded waits.
A connection the server closed is dropped as soon as the event loop sees it, and
an idle one after `KEEPALIVE_SECONDS` (below uvicorn's five), so a request is
never written to a connection the server is about to close. Every failure to
send or to read a whole answer is an `InternalHttpError`; nothing is retried.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import httptools

__all__ = [
    "InternalHttp",
    "InternalHttpError",
    "InternalResponse",
    "KEEPALIVE_SECONDS",
    "MAX_ANSWER_BYTES",
]

KEEPALIVE_SECONDS = 4.0
MAX_IDLE_PER_ORIGIN = 16
# The hop's answers are a few hundred bytes of JSON; anything huge is not one of them.
MAX_ANSWER_BYTES = 1024 * 1024
_FORBIDDEN_IN_HEAD = ("\r", "\n")


class InternalHttpError(Exception):
    """The request was not sent, or its whole answer not read (refused, reset,
    closed early, timed out, not HTTP, too large)."""


@dataclass(frozen=True)
class InternalResponse:
    status_code: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[InternalResponse] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._headers_done = False
        self.keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (the services run on uvloop) do not subclass asyncio's
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the connection is not ours to trust
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(InternalHttpError(f"not an HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and self._delimited_by_close():
            self._complete()
            return
        reason = f": {exc}" if exc else ""
        self._fail(InternalHttpError(f"the connection closed before the whole answer{reason}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            self._fail(InternalHttpError(f"the answer is over {MAX_ANSWER_BYTES} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()

    # the client's side
    def send(self, head: bytes, body: bytes) -> asyncio.Future[InternalResponse]:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._body, self._size = {}, [], 0
        self._headers_done = self.keep_alive = False
        self.transport.writelines((head, body))
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _delimited_by_close(self) -> bool:
        return (
            "content-length" not in self._headers
            and "chunked" not in self._headers.get("transfer-encoding", "").lower()
        )

    def _complete(self) -> None:
        answer, parser = self._answer, self._parser
        self._answer = self._parser = None
        if answer is None or answer.done() or parser is None:
            return
        answer.set_result(
            InternalResponse(parser.get_status_code(), self._headers, b"".join(self._body))
        )

    def _fail(self, exc: InternalHttpError) -> None:
        answer = self._answer
        self._answer = self._parser = None
        if answer is not None and not answer.done():
            answer.set_exception(exc)


@dataclass(frozen=True)
class _Origin:
    host: str
    port: int
    base_path: str


class InternalHttp:
    """`await client.request("POST", "http://127.0.0.1:8002/internal/archive",
    params=..., headers=..., content=..., timeout=60, connect_timeout=5)`."""

    def __init__(
        self,
        *,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        max_idle: int = MAX_IDLE_PER_ORIGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keepalive_seconds = keepalive_seconds
        self.max_idle = max_idle
        self.clock = clock
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._origins: dict[str, _Origin] = {}
        self.connections_opened = 0

    def _origin(self, base_url: str) -> _Origin:
        origin = self._origins.get(base_url)
        if origin is None:
            parts = urlsplit(base_url)
            if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(f"not a plain http:// base URL: {base_url!r}")
            origin = _Origin(parts.hostname, parts.port or 80, parts.path.rstrip("/"))
            self._origins[base_url] = origin
        return origin

    async def request(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
        timeout: float,
        connect_timeout: float,
    ) -> InternalResponse:
        """`method` `base_url` + `path` (`?params`, URL-encoded) with `content` as
        its body; the whole answer, whatever its status."""
        origin = self._origin(base_url)
        target = origin.base_path + path + (f"?{urlencode(params)}" if params else "")
        head = _request_head(method, target, f"{origin.host}:{origin.port}", headers, len(content))
        connection = await self._connection(origin, connect_timeout)
        try:
            async with asyncio.timeout(timeout):
                answer = await connection.send(head, content)
        except TimeoutError:
            connection.close()
            raise InternalHttpError(f"no answer within {timeout:g}s") from None
        except BaseException:
            connection.close()  # cancelled or failed mid-request: its state is unknown
            raise
        self._release(origin, connection)
        return answer

    async def _connection(self, origin: _Origin, connect_timeout: float) -> _Connection:
        idle = self._idle.get((origin.host, origin.port))
        now = self.clock()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_seconds:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(_Connection, origin.host, origin.port)
        except TimeoutError:
            raise InternalHttpError(
                f"cannot connect to {origin.host}:{origin.port} within {connect_timeout:g}s"
            ) from None
        except OSError as exc:
            raise InternalHttpError(
                f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from exc
        self.connections_opened += 1
        return protocol

    def _release(self, origin: _Origin, connection: _Connection) -> None:
        if connection.closed or not connection.keep_alive:
            connection.close()
            return
        idle = self._idle.setdefault((origin.host, origin.port), [])
        if len(idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = self.clock()
        idle.append(connection)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _request_head(
    method: str, target: str, host: str, headers: Mapping[str, str] | None, length: int
) -> bytes:
    """The request line and headers; a line break in any of them (or a space in
    the target) would let a value write its own header, so it is refused."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {length}"]
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    if " " in target or any(c in line for line in lines for c in _FORBIDDEN_IN_HEAD):
        raise ValueError("a request line or header holds a line break, or the target a space")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
