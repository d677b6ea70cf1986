"""Redis unreachable: login and session checks fail closed with 503 and a clear
message, nothing is let through, and service resumes when Redis is back."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ticktide_auth.app import create_app
from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, AuthServer
from ticktide_common.bus import Bus
from ticktide_common.testing.processes import free_port, wait_until

pytestmark = pytest.mark.integration


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nobody."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        async def answers() -> bool:
            client = Redis(port=self.port)
            try:
                return bool(await client.ping())
            except Exception:
                return False
            finally:
                await client.aclose()

        await wait_until(answers, timeout=15, what="private redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path)
    yield server
    server.stop()


def auth_on_redis(settings: AuthSettings, redis_port: int) -> AuthServer:
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    app = create_app(settings.model_copy(update={"redis_url": redis_url}))
    return AuthServer(app, free_port()).start()


async def test_nothing_listening_means_503_for_login_and_sessions(
    settings: AuthSettings, bus: Bus, make_user
) -> None:
    user = await make_user()
    server = auth_on_redis(settings, free_port())
    client = AuthClient(server.url, ip="198.51.100.9")
    try:
        login = await client.login_response(user.username, user.password)
        assert login.status_code == 503
        assert login.json()["detail"].startswith("session store unavailable")
        assert login.headers.get("set-cookie") is None
        me = await client.request(
            "GET", "/api/auth/me", headers={"Cookie": f"{client.cookie_name}=abc"}
        )
        assert me.status_code == 503
        assert (await client.request("GET", "/api/auth/me")).status_code == 401
        ready = await client.http.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")
    finally:
        await client.aclose()
        server.stop()


async def test_redis_stopped_then_back(
    settings: AuthSettings, bus: Bus, make_user, private_redis: PrivateRedis
) -> None:
    user = await make_user()
    await private_redis.start()
    server = auth_on_redis(settings, private_redis.port)
    client = AuthClient(server.url, ip="198.51.100.10")
    try:
        session = await client.login(user.username, user.password)
        assert (await client.request("GET", "/api/auth/me", session)).status_code == 200

        private_redis.stop()
        login = await client.login_response(user.username, user.password)
        assert login.status_code == 503 and "session store unavailable" in login.text
        me = await client.request("GET", "/api/auth/me", session)
        assert me.status_code == 503  # neither let through nor mistaken for a logout
        made = await client.request(
            "POST", "/api/auth/tokens", session, json={"name": "x", "password": user.password}
        )
        assert made.status_code == 503

        await private_redis.start()  # empty: sessions were in memory only

        async def login_works() -> bool:
            response = await client.login_response(user.username, user.password)
            return response.status_code == 200

        await wait_until(login_works, timeout=20, what="login after Redis came back")
        assert (await client.request("GET", "/api/auth/me", session)).status_code == 401
    finally:
        await client.aclose()
        server.stop()
        await asyncio.sleep(0)
