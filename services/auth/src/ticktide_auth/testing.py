"""Test helpers for anyone who runs the auth service in-process: a clock tests
move by hand, a uvicorn server on a thread (real HTTP, configured as
`run_service` does: uvicorn's proxy headers off, so only `X-Forwarded-For` with the
proxy secret sets the client IP), and a small client that plays the gateway (it
sends the secret with its client IP, unless told `trusted=False`) and carries the
session cookie and CSRF token itself (httpx would not send a `Secure` cookie over
plain http)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from ticktide_common.testing.proxy import TEST_PROXY_SECRET, trusted_hop

__all__ = ["FakeClock", "AuthServer", "Session", "AuthClient", "unique_name", "session_token"]


class FakeClock:
    """Starts at the real time; only `advance` moves it."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class AuthServer:
    """`app` served by uvicorn on its own thread and event loop."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"auth-{port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AuthServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the auth server stopped during start-up (see the log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the auth server did not start within {timeout}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def session_token(response: httpx.Response, cookie_name: str) -> str | None:
    """The session token a response's Set-Cookie gives, if any."""
    for line in response.headers.get_list("set-cookie"):
        name, _, rest = line.partition("=")
        if name == cookie_name:
            return rest.split(";", 1)[0]
    return None


@dataclass
class Session:
    token: str
    csrf_token: str
    body: dict[str, Any] = field(default_factory=dict)


class AuthClient:
    """Calls as one client IP (sent as X-Forwarded-For, with the proxy secret as
    the gateway sends it; without, when `trusted` is False), optionally in a session."""

    def __init__(
        self,
        base_url: str,
        *,
        ip: str = "203.0.113.1",
        cookie_name: str = "__Host-ticktide_session",
        trusted: bool = True,
        proxy_secret: str = TEST_PROXY_SECRET,
        local_address: str | None = None,
    ) -> None:
        # local_address: connect from another loopback address (127.0.0.N), so that
        # what the socket's address is charged with stays this client's own.
        transport = httpx.AsyncHTTPTransport(local_address=local_address)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30.0, transport=transport)
        self.ip = ip
        self.cookie_name = cookie_name
        self.trusted = trusted
        self.proxy_secret = proxy_secret

    async def aclose(self) -> None:
        await self.http.aclose()

    def headers(
        self, session: Session | None = None, *, csrf: bool = True, **extra: str
    ) -> dict[str, str]:
        forwarded = (
            trusted_hop(self.ip, self.proxy_secret)
            if self.trusted
            else {"X-Forwarded-For": self.ip}
        )
        headers = {**forwarded, **extra}
        if session is not None:
            headers["Cookie"] = f"{self.cookie_name}={session.token}"
            if csrf:
                headers["X-CSRF-Token"] = session.csrf_token
        return headers

    async def request(
        self,
        method: str,
        path: str,
        session: Session | None = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return await self.http.request(
            method, path, headers=self.headers(session, csrf=csrf, **(headers or {})), **kwargs
        )

    async def login_response(
        self, username: str, password: str, session: Session | None = None
    ) -> httpx.Response:
        return await self.request(
            "POST", "/api/auth/login", session, json={"username": username, "password": password}
        )

    async def login(self, username: str, password: str) -> Session:
        response = await self.login_response(username, password)
        assert response.status_code == 200, response.text
        token = session_token(response, self.cookie_name)
        assert token, response.headers
        body = response.json()
        return Session(token=token, csrf_token=body["csrf_token"], body=body)
