"""A lean HTTP/1.1 client for the archive uploads' two hops: the CLI's upload to
the API (https:// through nginx) and the gateway's hand-over to ingest-crypto's
internal route (http:// on the stack's loopback). Every archive crosses both once.

Why not httpx there: httpx spends most of a millisecond of CPU on each request
(its URL, header, cookie and response models, its auth and redirect layers, and
httpcore's pool checks through anyio), a third of the gateway's CPU per upload
and as much of the CLI's. This client does only what an upload needs: one request
with its whole body, the answer read whole (Content-Length, chunked, or up to the
end of the connection), keep-alive connections reused per origin, TLS from the
caller's `ssl.SSLContext`, and bounded waits. Everything else (proxies, cookies,
redirects, streaming) stays with httpx.

A connection the server closed is dropped as soon as the event loop sees it, and
an idle one after `KEEPALIVE_SECONDS` (below uvicorn's five and nginx's 75), so a
request is never written to a connection the server is about to close. `timeout`
bounds the time without progress (bytes sent or received), as httpx's read and
write timeouts do, so a large body on a slow link is not cut off. Every failure to
connect, to send or to read a whole answer is a `LeanHttpError`; nothing is retried.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import httptools

__all__ = [
    "LeanHttpClient",
    "LeanHttpError",
    "LeanResponse",
    "KEEPALIVE_SECONDS",
    "MAX_ANSWER_BYTES",
]

KEEPALIVE_SECONDS = 4.0
MAX_IDLE_PER_ORIGIN = 16
# The uploads' answers are a few hundred bytes of JSON; anything huge is not one of them.
MAX_ANSWER_BYTES = 1024 * 1024
_FORBIDDEN_IN_HEAD = ("\r", "\n")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class LeanHttpError(Exception):
    """The request was not sent, or its whole answer not read (refused, reset, TLS
    refused, closed early, no progress in time, not HTTP, too large)."""


@dataclass(frozen=True)
class LeanResponse:
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
        self.received = 0  # bytes, for the progress check
        self._answer: asyncio.Future[LeanResponse] | None = None
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
        self.received += len(data)
        if self._parser is None:  # bytes nobody asked for: the connection is not ours to trust
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(LeanHttpError(f"not an HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and self._delimited_by_close():
            self._complete()
            return
        reason = f": {exc}" if exc else ""
        self._fail(LeanHttpError(f"the connection closed before the whole answer{reason}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            self._fail(LeanHttpError(f"the answer is over {MAX_ANSWER_BYTES} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()

    # the client's side
    def send(self, head: bytes, body: bytes) -> asyncio.Future[LeanResponse]:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._body, self._size = {}, [], 0
        self._headers_done = self.keep_alive = False
        self.transport.writelines((head, body))
        return self._answer

    def progress(self) -> tuple[int, int]:
        """Bytes received, and bytes still waiting to be sent: unchanged means stuck."""
        buffered = self.transport.get_write_buffer_size() if self.transport else 0
        return self.received, buffered

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
            LeanResponse(parser.get_status_code(), self._headers, b"".join(self._body))
        )

    def _fail(self, exc: LeanHttpError) -> None:
        answer = self._answer
        self._answer = self._parser = None
        if answer is not None and not answer.done():
            answer.set_exception(exc)


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if _DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


class LeanHttpClient:
    """`await client.request("POST", "http://127.0.0.1:8002", "/internal/archive",
    params=..., headers=..., content=..., timeout=60, connect_timeout=5)`; https://
    base URLs need `ssl_context` (verification is the context's)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        max_idle: int = MAX_IDLE_PER_ORIGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ssl_context = ssl_context
        self.keepalive_seconds = keepalive_seconds
        self.max_idle = max_idle
        self.clock = clock
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._origins: dict[str, _Origin] = {}
        self.connections_opened = 0

    def _origin(self, base_url: str) -> _Origin:
        origin = self._origins.get(base_url)
        if origin is None:
            parts = urlsplit(base_url)
            if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
                raise ValueError(f"not an http:// or https:// base URL: {base_url!r}")
            if parts.query or parts.fragment or parts.username or parts.password:
                raise ValueError(f"a base URL holds no query, fragment or user: {base_url!r}")
            if parts.scheme == "https" and self.ssl_context is None:
                raise ValueError("an https:// base URL needs the client's ssl_context")
            port = parts.port or _DEFAULT_PORTS[parts.scheme]
            origin = _Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))
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
    ) -> LeanResponse:
        """`method` `base_url` + `path` (`?params`, URL-encoded) with `content` as
        its body; the whole answer, whatever its status."""
        origin = self._origin(base_url)
        target = origin.base_path + path + (f"?{urlencode(params)}" if params else "")
        head = _request_head(method, target, origin.host_header, headers, len(content))
        connection = await self._connection(origin, connect_timeout)
        try:
            answer = await _await_with_progress(connection, connection.send(head, content), timeout)
        except BaseException:
            connection.close()  # failed or cancelled mid-request: its state is unknown
            raise
        self._release(origin, connection)
        return answer

    async def _connection(self, origin: _Origin, connect_timeout: float) -> _Connection:
        idle = self._idle.get(origin)
        now = self.clock()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_seconds:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    _Connection,
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError:
            raise LeanHttpError(
                f"cannot connect to {origin.host_header} within {connect_timeout:g}s"
            ) from None
        except OSError as exc:  # ssl.SSLError (a refused certificate) included
            raise LeanHttpError(f"cannot connect to {origin.host_header}: {exc}") from exc
        self.connections_opened += 1
        return protocol

    def _release(self, origin: _Origin, connection: _Connection) -> None:
        if connection.closed or not connection.keep_alive:
            connection.close()
            return
        idle = self._idle.setdefault(origin, [])
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


async def _await_with_progress(
    connection: _Connection, answer: asyncio.Future[LeanResponse], timeout: float
) -> LeanResponse:
    """The answer; LeanHttpError once `timeout` seconds pass with nothing sent or received."""
    seen = connection.progress()
    while True:
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            now = connection.progress()
            if now == seen:
                answer.cancel()
                raise LeanHttpError(f"no progress within {timeout:g}s") from None
            seen = now


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
