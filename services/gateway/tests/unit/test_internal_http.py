"""The gateway's hop client (internal_http.py) against a real uvicorn server, as
ingest-crypto runs, and against a raw socket server for what uvicorn never
sends: answers delimited by the end of the connection, bytes that are not HTTP,
silence."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvicorn
import uvloop
from starlette.types import Receive, Scope, Send

from ticktide_common.testing.processes import free_port
from ticktide_gateway.internal_http import (
    MAX_ANSWER_BYTES,
    InternalHttp,
    InternalHttpError,
    InternalResponse,
)


@dataclass
class Upstream:
    url: str
    peers: list[tuple[str, int]] = field(default_factory=list)  # one per request


async def _echo(scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
    """Answers with what it got; `/close` asks to close the connection, `/chunked`
    streams its answer in pieces, `/big` answers more than MAX_ANSWER_BYTES."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    upstream.peers.append(scope["client"])
    path = scope["path"]
    payload = json.dumps(
        {
            "method": scope["method"],
            "path": path,
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "body": body.decode("latin-1"),
        }
    ).encode()
    if path == "/big":
        payload = b"x" * (MAX_ANSWER_BYTES + 1)
    headers = [(b"content-type", b"application/json")]
    if path == "/close":
        headers.append((b"connection", b"close"))
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        for i in range(0, len(payload), 7):
            await send(
                {"type": "http.response.body", "body": payload[i : i + 7], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", str(len(payload)).encode()))
    status = 422 if path == "/refuse" else 202
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@contextlib.asynccontextmanager
async def uvicorn_upstream(keep_alive_seconds: float = 5.0) -> AsyncIterator[Upstream]:
    port = free_port()
    upstream = Upstream(f"http://127.0.0.1:{port}")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _echo(scope, receive, send, upstream)

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_keep_alive=keep_alive_seconds,  # type: ignore[arg-type]
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield upstream
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def raw_upstream(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def _post(
    client: InternalHttp,
    url: str,
    path: str = "/internal/archive",
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    content: bytes = b"zip bytes",
    timeout: float = 5.0,
) -> InternalResponse:
    return await client.request(
        "POST",
        url,
        path,
        params=params,
        headers=headers,
        content=content,
        timeout=timeout,
        connect_timeout=1.0,
    )


async def test_a_request_arrives_whole_and_its_answer_comes_back_whole() -> None:
    client = InternalHttp()
    async with uvicorn_upstream() as upstream:
        answer = await _post(
            client,
            upstream.url + "/",
            params={"filename": "BTCUSDT-1h-2024-01.zip", "requested_by": "ad min&x=1"},
            headers={"Content-Type": "application/zip", "X-Ticktide-Proxy-Secret": "s3cret"},
            content=bytes(range(256)) * 40,
        )
    await client.aclose()
    assert answer.status_code == 202
    assert answer.headers["content-type"] == "application/json"
    seen = answer.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/internal/archive"
    assert seen["query"] == "filename=BTCUSDT-1h-2024-01.zip&requested_by=ad+min%26x%3D1"
    assert seen["headers"]["x-ticktide-proxy-secret"] == "s3cret"
    assert seen["headers"]["content-type"] == "application/zip"
    assert seen["headers"]["content-length"] == str(256 * 40)
    assert seen["body"].encode("latin-1") == bytes(range(256)) * 40


async def test_keep_alive_connections_are_reused_and_concurrent_requests_get_their_own() -> None:
    client = InternalHttp()
    async with uvicorn_upstream() as upstream:
        for _ in range(5):
            assert (await _post(client, upstream.url)).status_code == 202
        assert client.connections_opened == 1
        assert len(set(upstream.peers)) == 1
        answers = await asyncio.gather(*(_post(client, upstream.url) for _ in range(4)))
        assert [a.status_code for a in answers] == [202] * 4
        assert client.connections_opened == 4  # the idle one, and three more
    await client.aclose()


def test_the_client_works_on_uvloop_as_the_services_run() -> None:
    async def scenario() -> tuple[list[int], int]:
        client = InternalHttp()
        async with uvicorn_upstream() as upstream:
            statuses = [(await _post(client, upstream.url)).status_code for _ in range(3)]
            statuses.append((await _post(client, upstream.url, "/refuse")).status_code)
        await client.aclose()
        return statuses, client.connections_opened

    assert uvloop.run(scenario()) == ([202, 202, 202, 422], 1)


async def test_closing_refused_and_chunked_answers_are_answers_then_it_reconnects() -> None:
    client = InternalHttp()
    async with uvicorn_upstream() as upstream:
        closing = await _post(client, upstream.url, "/close")
        refused = await _post(client, upstream.url, "/refuse")
        chunked = await _post(client, upstream.url, "/chunked")
        again = await _post(client, upstream.url)
    await client.aclose()
    assert closing.status_code == 202 and closing.json()["path"] == "/close"
    assert refused.status_code == 422 and refused.json()["path"] == "/refuse"
    assert chunked.status_code == 201 and chunked.json()["path"] == "/chunked"
    assert again.status_code == 202
    assert client.connections_opened == 2  # a new one after "Connection: close" only


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    client = InternalHttp()
    async with uvicorn_upstream(keep_alive_seconds=0.1) as upstream:
        await _post(client, upstream.url)
        await asyncio.sleep(0.5)  # uvicorn closes the idle connection
        assert (await _post(client, upstream.url)).status_code == 202
    await client.aclose()
    assert client.connections_opened == 2
    assert len(set(upstream.peers)) == 2


async def test_an_idle_connection_older_than_the_keep_alive_window_is_dropped() -> None:
    now = [100.0]
    client = InternalHttp(keepalive_seconds=4.0, clock=lambda: now[0])
    async with uvicorn_upstream() as upstream:
        await _post(client, upstream.url)
        now[0] += 3.9
        await _post(client, upstream.url)
        assert client.connections_opened == 1
        now[0] += 4.0
        await _post(client, upstream.url)
        assert client.connections_opened == 2
    await client.aclose()


async def test_failures_to_connect_or_to_answer_are_internal_http_errors() -> None:
    client = InternalHttp()
    with pytest.raises(InternalHttpError, match="cannot connect"):
        await _post(client, f"http://127.0.0.1:{free_port()}")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    async with raw_upstream(silent) as url:
        with pytest.raises(InternalHttpError, match="no answer within 0.2s"):
            await _post(client, url, timeout=0.2)
    async with raw_upstream(hangs_up) as url:
        with pytest.raises(InternalHttpError, match="closed before the whole answer"):
            await _post(client, url)
    async with raw_upstream(garbage) as url:
        with pytest.raises(InternalHttpError, match="not an HTTP answer"):
            await _post(client, url)
    async with uvicorn_upstream() as upstream:
        with pytest.raises(InternalHttpError, match="over"):
            await _post(client, upstream.url, "/big")
        assert (await _post(client, upstream.url)).status_code == 202  # a fresh connection
    await client.aclose()


async def test_an_answer_delimited_by_the_end_of_the_connection_is_read_whole() -> None:
    async def old_style(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n")
        writer.write(b"down for a moment")
        await writer.drain()
        writer.close()

    client = InternalHttp()
    async with raw_upstream(old_style) as url:
        answer = await _post(client, url)
    await client.aclose()
    assert (answer.status_code, answer.text) == (503, "down for a moment")


async def test_a_line_break_in_a_header_or_a_non_http_url_is_refused_before_sending() -> None:
    client = InternalHttp()
    with pytest.raises(ValueError, match="line break"):
        await _post(client, "http://127.0.0.1:1", headers={"X-A": "b\r\nX-Injected: 1"})
    with pytest.raises(ValueError, match="plain http"):
        await _post(client, "https://127.0.0.1:1")
    assert client.connections_opened == 0
