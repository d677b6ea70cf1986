"""Unit tests of the error handlers on a bare app: unexpected errors become a JSON
500 without internals; validation errors become one readable 422."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import FastAPI, Query

from ticktide_gateway.crypto.schemas import PricesQuery
from ticktide_gateway.error_handlers import install_error_handlers
from ticktide_gateway.validation import InvalidQuery


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/query")
    async def query(q: Annotated[PricesQuery, Query()]) -> dict[str, str]:
        if q.symbol == "BADRANGE":
            raise InvalidQuery("start must be before end")
        return {"symbol": q.symbol}

    return app


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_unexpected_error_is_a_json_500_without_internals() -> None:
    async with client() as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the gateway logged it"}
    assert "secret" not in response.text and "Traceback" not in response.text


async def test_validation_and_invalid_query_are_422_with_detail() -> None:
    async with client() as http:
        response = await http.get("/query", params={"symbol": "BTCUSDT", "interval": "5m"})
        assert response.status_code == 422
        assert response.json()["detail"] == (
            "query parameter 'interval': Input should be '1h', '4h' or '1d'"
        )
        response = await http.get("/query", params={"symbol": "BADRANGE"})
    assert (response.status_code, response.json()) == (422, {"detail": "start must be before end"})


async def test_a_405_lists_every_method_of_the_path() -> None:
    # FastAPI makes one route per method; Starlette's 405 named only the first.
    app = make_app()

    @app.get("/things/{thing_id}")
    async def read(thing_id: int) -> None: ...

    @app.delete("/things/{thing_id}")
    async def remove(thing_id: int) -> None: ...

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        response = await http.options("/things/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json() == {"detail": "Method Not Allowed"}
