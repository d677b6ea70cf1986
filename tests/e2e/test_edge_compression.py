"""Compression at the edge (issue 13), as a browser meets it: HTTP/2 over TLS to
nginx (tests/edge.py, the template `make up` renders) in front of a real stack
with the web service. nginx gzips what the gateway sends unencoded (the API's
JSON, the pages' HTML), with `Vary: Accept-Encoding`; a body that already has a
Content-Encoding (the web service's pre-compressed static files, the gateway's
stored gzip/br price answers) reaches the client byte for byte as the gateway
sent it; an event stream is never compressed and never held back: its first
event arrives while the stream is still open, on the SSE location and on any
other one. The bodies are read raw (`aiter_raw`), as they were on the wire."""

from __future__ import annotations

import asyncio
import gzip
import re
import secrets
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import brotli
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, format_sse_event
from redis.asyncio import Redis

from tests.edge import NginxEdge, find_nginx, start_nginx
from tests.stack import CryptoStack, backfill_and_wait, stack_env, start_stack
from ticktide_common.backtests.events import BatchEventLog
from ticktide_common.testing.processes import free_port, wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (make up installs it)"),
]

SYMBOL = "EDGEUSDT"
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)  # 744 hourly candles: a body of some 100 KB
FIRST_EVENT_SECONDS = 5.0


@dataclass
class Edge:
    stack: CryptoStack
    nginx: NginxEdge
    user_id: int  # an admin's, signed in by `headers` (a bearer token)
    headers: dict[str, str]

    def client(self) -> httpx.AsyncClient:
        """An HTTP/2 client of nginx that sends no Accept-Encoding of its own."""
        return _without_default_coding(
            httpx.AsyncClient(
                base_url=self.nginx.url,
                http2=True,
                verify=ssl.create_default_context(cafile=str(self.nginx.ca_bundle)),
                headers=self.headers,
                timeout=30,
            )
        )

    def gateway(self) -> httpx.AsyncClient:
        """A client of the gateway's own port (HTTP/1.1), the same headers."""
        return _without_default_coding(
            httpx.AsyncClient(base_url=self.stack.api, headers=self.headers, timeout=30)
        )


def _without_default_coding(client: httpx.AsyncClient) -> httpx.AsyncClient:
    del client.headers["accept-encoding"]  # httpx's default would ask for gzip
    return client


async def raw_get(
    client: httpx.AsyncClient, url: str, accept_encoding: str | None
) -> tuple[httpx.Response, bytes]:
    """The answer and its body as it came over the wire (not decoded)."""
    headers = {"accept-encoding": accept_encoding} if accept_encoding else {}
    async with client.stream("GET", url, headers=headers) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200, body[:300]
    return response, body


def decoded(response: httpx.Response, body: bytes) -> bytes:
    coding = response.headers.get("content-encoding", "identity")
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return bytes(brotli.decompress(body))
    assert coding == "identity", coding
    return body


def varies_on_coding(response: httpx.Response) -> bool:
    names = ",".join(response.headers.get_list("vary")).lower()
    return "accept-encoding" in {name.strip() for name in names.split(",")}


@pytest.fixture(scope="module")
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture(scope="module")
async def edge(
    fake_binance: FakeBinance,
    service_env: dict[str, str],
    log_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    db_pool: asyncpg.Pool,
) -> AsyncIterator[Edge]:
    secret = secrets.token_hex(16)
    env = stack_env(
        service_env,
        fake_binance.url,
        TICKTIDE_PROXY_SECRET=secret,
        CRYPTO_SCHEDULER_ENABLED="0",
    )
    stack = await start_stack(fake_binance, env, log_dir, ingesters=("web",))
    try:
        nginx = start_nginx(int(env["GATEWAY_PORT"]), tmp_path_factory.mktemp("edge-nginx"), secret)
        try:
            user_id, _ = await create_test_user(db_pool, role="admin")
            headers = bearer(await create_test_token(db_pool, user_id))
            fake_binance.add_series(SYMBOL, "1h", START, END)
            async with httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=30) as api:
                await backfill_and_wait(api, SYMBOL, START, END)
            yield Edge(stack, nginx, user_id, headers)
        finally:
            nginx.stop()
    finally:
        await stack.close()


async def test_json_the_gateway_sends_plain_is_gzipped_by_nginx(edge: Edge) -> None:
    async with edge.gateway() as gateway, edge.client() as client:
        direct, plain = await raw_get(gateway, "/api/openapi.json", "gzip, br")
        assert "content-encoding" not in direct.headers  # nginx's part, not the gateway's
        assert len(plain) > 10_000

        zipped_answer, zipped = await raw_get(client, "/api/openapi.json", "gzip, br")
        assert zipped_answer.http_version == "HTTP/2"
        assert zipped_answer.headers["content-encoding"] == "gzip"
        assert zipped_answer.headers["content-type"].startswith("application/json")
        assert varies_on_coding(zipped_answer)
        assert gzip.decompress(zipped) == plain
        assert len(zipped) < len(plain) / 3

        identity_answer, identity = await raw_get(client, "/api/openapi.json", None)
        assert "content-encoding" not in identity_answer.headers
        assert identity == plain


async def test_pages_are_gzipped_by_nginx(edge: Edge) -> None:
    async with edge.client() as client:
        zipped_answer, zipped = await raw_get(client, "/login", "gzip")
        assert zipped_answer.headers["content-type"].startswith("text/html")
        assert zipped_answer.headers["content-encoding"] == "gzip"
        assert varies_on_coding(zipped_answer)
        identity_answer, identity = await raw_get(client, "/login", None)
        assert "content-encoding" not in identity_answer.headers
        # The page holds a fresh CSRF token per answer: compare it without.
        token = re.compile(rb'name="csrf_token" value="[^"]*"')
        assert token.sub(b"", gzip.decompress(zipped)) == token.sub(b"", identity)


async def test_static_files_the_web_service_compressed_pass_untouched(edge: Edge) -> None:
    async with edge.gateway() as gateway, edge.client() as client:
        form = (await raw_get(gateway, "/login", None))[1].decode()
        css = re.search(r'href="(/static/vendor/bootstrap\.min\.[0-9a-f]{10}\.css)"', form)
        assert css, form
        direct, sent = await raw_get(gateway, css.group(1), "gzip")
        assert direct.headers["content-encoding"] == "gzip"
        through, received = await raw_get(client, css.group(1), "gzip")
        assert through.headers["content-encoding"] == "gzip"
        assert varies_on_coding(through)
        assert received == sent  # not decoded and compressed again


@pytest.mark.parametrize("shape", ["default", "columns"])
@pytest.mark.parametrize(("accept", "coding"), [("gzip, br", "br"), ("gzip", "gzip")])
async def test_price_answers_the_gateway_encoded_pass_untouched(
    edge: Edge, shape: str, accept: str, coding: str
) -> None:
    params = f"symbol={SYMBOL}&interval=1h&start=2024-01-01T00:00:00Z&end=2024-02-01T00:00:00Z"
    url = f"/api/crypto/prices?{params}" + ("&format=columns" if shape == "columns" else "")
    async with edge.gateway() as gateway, edge.client() as client:
        _, identity = await raw_get(gateway, url, None)
        stored: dict[str, tuple[httpx.Response, bytes]] = {}

        async def encoded_hit() -> bool:  # the stored forms are made after the first answer
            stored["direct"] = await raw_get(gateway, url, accept)
            answer = stored["direct"][0]
            return bool(
                answer.headers.get("x-cache") == "hit"
                and answer.headers.get("content-encoding") == coding
            )

        await wait_until(encoded_hit, timeout=10, what=f"a stored {coding} answer of {url}")
        direct, sent = stored["direct"]
        assert varies_on_coding(direct)

        through, received = await raw_get(client, url, accept)
        assert through.http_version == "HTTP/2"
        assert through.headers.get("x-cache") == "hit"
        assert through.headers["content-encoding"] == coding
        assert varies_on_coding(through)
        assert received == sent  # the gateway's stored bytes, untouched
        assert decoded(through, received) == identity

        plain_answer, plain = await raw_get(client, url, None)
        assert "content-encoding" not in plain_answer.headers
        assert plain == identity


async def next_lines(lines: AsyncIterator[str], count: int) -> list[str]:
    """The next `count` non-empty lines of a stream (one iterator per stream)."""
    taken: list[str] = []
    while len(taken) < count:
        if line := await anext(lines):
            taken.append(line)
    return taken


async def test_batch_events_through_nginx_are_neither_compressed_nor_buffered(
    edge: Edge, db_pool: asyncpg.Pool
) -> None:
    batch_id = uuid.uuid4()
    await db_pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, status, total_jobs,
                                  total_backtests)
           VALUES ($1, $2, '{}'::jsonb, 'sma_cross', 'queued', 1, 1)""",
        batch_id,
        edge.user_id,
    )
    env = edge.stack.env
    redis = Redis.from_url(env["REDIS_URL"])
    events = BatchEventLog(redis, env["TICKTIDE_REDIS_PREFIX"], maxlen=1000, ttl_seconds=600)
    url = f"/api/crypto/backtest/batch/{batch_id}/events"
    try:
        async with (
            edge.client() as client,
            client.stream("GET", url, headers={"accept-encoding": "gzip, br"}) as response,
        ):
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers
            # The stream's opening (a comment, retry) before anything else happened.
            lines = response.aiter_lines()
            opening = await asyncio.wait_for(next_lines(lines, 2), FIRST_EVENT_SECONDS)
            assert opening == [f": batch {batch_id}", "retry: 1000"], opening
            # An event appended as a worker appends one comes through at once.
            await events.append(str(batch_id), "progress", {"batch_id": str(batch_id), "done": 1})
            event = await asyncio.wait_for(next_lines(lines, 3), FIRST_EVENT_SECONDS)
            assert [line.split(":", 1)[0] for line in event] == ["event", "data", "id"], event
            assert event[0] == "event: progress"
    finally:
        await redis.aclose()


class _HeldStream:
    """A stub upstream (uvicorn, in this process) that serves an event stream at a
    path outside nginx's SSE location, as the gateway serves its streams (its
    headers), and holds it open after the first event until told to end it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.release = asyncio.Event()
        app = FastAPI()

        async def events() -> AsyncIterator[bytes]:
            yield format_sse_event(data_str='{"n": 1}', event="progress", id="1")
            await self.release.wait()
            yield format_sse_event(data_str='{"n": 2}', event="summary", id="2")

        @app.get("/api/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/api/elsewhere/feed")
        async def feed() -> EventSourceResponse:
            return EventSourceResponse(
                events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            )

        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> _HeldStream:
        self.task = asyncio.create_task(self.server.serve())

        async def started() -> bool:
            return bool(self.server.started)

        await wait_until(started, timeout=10, what="the stub upstream")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        self.server.should_exit = True
        await self.task


async def test_an_event_stream_from_another_location_is_neither_compressed_nor_buffered(
    tmp_path: Path,
) -> None:
    async with _HeldStream() as upstream:
        nginx = await asyncio.to_thread(
            start_nginx, upstream.port, tmp_path / "nginx", secrets.token_hex(16)
        )
        try:
            async with (
                httpx.AsyncClient(
                    base_url=nginx.url,
                    http2=True,
                    verify=ssl.create_default_context(cafile=str(nginx.ca_bundle)),
                    timeout=30,
                ) as client,
                client.stream(
                    "GET", "/api/elsewhere/feed", headers={"accept-encoding": "gzip, br"}
                ) as response,
            ):
                assert response.status_code == 200
                assert "content-encoding" not in response.headers
                lines = response.aiter_lines()
                first = await asyncio.wait_for(next_lines(lines, 3), FIRST_EVENT_SECONDS)
                assert not upstream.release.is_set()  # the stream is still open upstream
                assert first == ["event: progress", 'data: {"n": 1}', "id: 1"], first
                upstream.release.set()
                rest = await asyncio.wait_for(next_lines(lines, 3), FIRST_EVENT_SECONDS)
                assert rest[0] == "event: summary", rest
        finally:
            nginx.stop()
