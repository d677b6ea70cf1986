"""A TCP fault proxy for the fault tests (issue 16): put between a service and
RabbitMQ, PostgreSQL or Redis, it forwards bytes both ways and lets the test
switch faults on and off while traffic flows.

- `latency(seconds)`: every chunk arrives `seconds` later, in order, at the same
  throughput (a long pipe, not a slow one);
- `bandwidth(bytes_per_second)`: each direction of each connection is capped;
- `blackhole()`: nothing moves any more, and new connections are accepted but get
  no answer, as when the network drops every packet: TCP keeps what was sent, so
  after `heal()` it flows again unless a side gave up meanwhile (heartbeats,
  timeouts); that is what the tests watch;
- `reset()`: every open connection is closed with a TCP reset (both sides see it),
  and with `refuse=True` so is each new one until `heal()`;
- `heal()`: back to plain forwarding.

`connections` counts accepted connections, `open_connections` the live ones. Use
it as `async with FaultProxy(host, port) as proxy:` and connect to `proxy.port`
on 127.0.0.1 (`proxy.url_for(url)` rewrites a service URL's host and port).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from ticktide_common.logging import get_logger

__all__ = ["FaultProxy"]

log = get_logger(__name__)

CHUNK = 64 * 1024


@dataclass(eq=False)  # kept in a set, by identity
class _Link:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    directions_done: int = 0


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._latency = 0.0
        self._rate: float | None = None
        self._refuse = False
        self.connections = 0

    # ---- lifecycle ---------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url_for(self, url: str) -> str:
        """`url` with its host and port replaced by this proxy's (credentials,
        path and query kept): what a service is given instead of the real URL."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.heal()
        for link in list(self._links):
            self._close(link, reset=False)
        tasks = [task for link in list(self._links) for task in link.tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # ---- faults ----------------------------------------------------------------

    def latency(self, seconds: float) -> None:
        self._latency = max(0.0, seconds)

    def bandwidth(self, bytes_per_second: float | None) -> None:
        self._rate = bytes_per_second if bytes_per_second and bytes_per_second > 0 else None

    def blackhole(self) -> None:
        self._flowing.clear()

    def reset(self, *, refuse: bool = False) -> int:
        """Reset every open connection (and, with `refuse`, each new one until
        `heal()`); how many were reset."""
        self._refuse = refuse
        links = list(self._links)
        for link in links:
            self._close(link, reset=True)
        return len(links)

    def heal(self) -> None:
        self._latency = 0.0
        self._rate = None
        self._refuse = False
        self._flowing.set()

    # ---- forwarding ------------------------------------------------------------

    def _close(self, link: _Link, *, reset: bool) -> None:
        for writer in (link.client, link.upstream):
            if writer is None or writer.transport.is_closing():
                continue
            if reset:
                _abort(writer)
            else:
                writer.close()
        for task in link.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._refuse:
            _abort(writer)
            return
        link = _Link(client=writer)
        self._links.add(link)
        try:
            await self._flowing.wait()  # a blackhole answers nothing, not even upstream
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except (OSError, asyncio.CancelledError) as exc:
            if not isinstance(exc, asyncio.CancelledError):
                log.warning("fault_proxy.upstream_unreachable", error=repr(exc))
            self._close(link, reset=True)
            return
        if link not in self._links:  # reset while connecting
            _abort(up_writer)
            return
        link.upstream = up_writer
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer)),
            asyncio.create_task(self._pump(link, up_reader, writer)),
        ]

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forward one direction: chunks are queued with their arrival time and
        written `latency` later, each after the flow is open, at most `rate`."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(maxsize=64)
        sender = asyncio.create_task(self._send(link, queue, writer))
        try:
            while True:
                await self._flowing.wait()
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                await queue.put((time.monotonic(), chunk))
            await queue.put(None)
            await sender
            link.directions_done += 1
            if link.directions_done < 2:
                return  # half closed: the other direction may still have bytes to pass
        except (ConnectionError, OSError):
            pass  # one side went away: so does the other (below)
        finally:
            if not sender.done():
                sender.cancel()
        if link in self._links:
            self._close(link, reset=False)

    async def _send(
        self,
        link: _Link,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
    ) -> None:
        while (item := await queue.get()) is not None:
            arrived, chunk = item
            due = arrived + self._latency - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
            await self._flowing.wait()
            rate = self._rate
            if rate is None:
                writer.write(chunk)
                await writer.drain()
                continue
            step = max(1, int(rate / 20))  # twenty slices a second
            for start in range(0, len(chunk), step):
                writer.write(chunk[start : start + step])
                await writer.drain()
                await asyncio.sleep(min(step, len(chunk) - start) / rate)
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
