"""The request body limit: per route prefix, on the declared length and on the
streamed bytes, a JSON 413 naming the limit, the body replayed intact below it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request

from ticktide_common.body_limit import BodyLimitMiddleware


def limited_app() -> BodyLimitMiddleware:
    app = FastAPI()

    @app.post("/small/echo")
    @app.post("/other/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return BodyLimitMiddleware(app, max_bytes=1000, limits=[("/small/", 100)])


async def test_each_route_prefix_has_its_limit() -> None:
    transport = httpx.ASGITransport(app=limited_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/small/echo", content=b"x" * 100)).json() == {"bytes": 100}
        small = await http.post("/small/echo", content=b"x" * 101)
        assert small.status_code == 413
        assert small.json() == {"detail": "request body too large (limit 100 bytes)"}
        assert (await http.post("/other/echo", content=b"x" * 1000)).json() == {"bytes": 1000}
        assert (await http.post("/other/echo", content=b"x" * 1001)).status_code == 413


async def test_streamed_and_absurdly_declared_bodies_are_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b"x" * 30

    transport = httpx.ASGITransport(app=limited_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/small/echo", content=chunks())).status_code == 413
        for declared in ("9" * 5000, "12abc"):  # beyond any int64, or not a number
            answer = await http.post(
                "/other/echo", content=b"x", headers={"Content-Length": declared}
            )
            assert answer.status_code == 413, declared
