"""A 405 names every method of the path in `Allow` (Starlette named only the
first route's, and FastAPI makes one route per method); other errors answer as
FastAPI's own handler does."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticktide_common.allow_header import allowed_methods, http_error_with_allow


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, http_error_with_allow)

    @app.get("/users/{user_id}")
    async def read(user_id: int) -> None: ...

    @app.patch("/users/{user_id}")
    async def edit(user_id: int) -> None: ...

    @app.delete("/users/{user_id}")
    async def remove(user_id: int) -> None: ...

    @app.post("/users/{user_id}/disable")
    async def disable(user_id: int) -> None: ...

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> None: ...

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "short and stout", headers={"X-Kind": "teapot"})

    return app


async def call(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        return await http.request(method, path)


async def test_a_405_lists_the_methods_of_every_route_of_the_path() -> None:
    response = await call("OPTIONS", "/users/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    assert response.json() == {"detail": "Method Not Allowed"}
    disable = await call("GET", "/users/1/disable")
    assert (disable.status_code, disable.headers["allow"]) == (405, "POST")


async def test_an_undocumented_routes_405_keeps_starlettes_header() -> None:
    response = await call("POST", "/hidden")
    assert (response.status_code, response.headers["allow"]) == (405, "GET")


async def test_other_errors_answer_as_fastapi_does() -> None:
    response = await call("GET", "/teapot")
    assert (response.status_code, response.json()) == (418, {"detail": "short and stout"})
    assert response.headers["x-kind"] == "teapot" and "allow" not in response.headers
    missing = await call("GET", "/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})


def test_allowed_methods_matches_templates_not_prefixes() -> None:
    app = make_app()
    assert allowed_methods(app, "/users/7") == ["DELETE", "GET", "PATCH"]
    assert allowed_methods(app, "/users/7/disable") == ["POST"]
    assert allowed_methods(app, "/users") == []
