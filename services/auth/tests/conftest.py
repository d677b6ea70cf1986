"""Fixtures of the auth tests: one in-process auth server per run (real HTTP on
a thread, an injected clock, a hasher whose counters tests can read), users
made through the same code path as registration, one client IP per test."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from ticktide_auth.app import create_app
from ticktide_auth.repository import AuthRepository
from ticktide_auth.settings import AuthSettings
from ticktide_auth.testing import AuthClient, AuthServer, FakeClock, unique_name
from ticktide_common.accounts.creation import PasswordLimits, create_user
from ticktide_common.accounts.passwords import PasswordHasher
from ticktide_common.bus import Bus
from ticktide_common.principal import Role
from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_common.testing.processes import free_port


@dataclass(frozen=True)
class TestUser:
    id: int
    username: str
    password: str


MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> AuthSettings:
    """The run's settings as the auth service's own class (what every auth test,
    and the shared fixtures they use, read)."""
    return settings_for(AuthSettings, settings)


@pytest.fixture(scope="session")
def auth_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def server_hasher() -> PasswordHasher:
    """The server's hasher (its counters show what login did)."""
    return PasswordHasher()


@pytest.fixture(scope="session")
def auth_server(
    settings: AuthSettings, bus: Bus, auth_clock: FakeClock, server_hasher: PasswordHasher
) -> Iterator[AuthServer]:
    app = create_app(settings, clock=auth_clock, hasher=server_hasher)
    server = AuthServer(app, free_port()).start()
    yield server
    server.stop()


def random_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
async def client(auth_server: AuthServer, settings: AuthSettings) -> AsyncIterator[AuthClient]:
    """A client with an IP of its own (throttling is per IP)."""
    http = AuthClient(auth_server.url, ip=random_ip(), cookie_name=settings.session_cookie_name)
    yield http
    await http.aclose()


@pytest.fixture
async def other_client(
    auth_server: AuthServer, settings: AuthSettings
) -> AsyncIterator[AuthClient]:
    http = AuthClient(auth_server.url, ip=random_ip(), cookie_name=settings.session_cookie_name)
    yield http
    await http.aclose()


@pytest.fixture(scope="session")
def test_hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture
def make_user(
    db_pool: asyncpg.Pool, test_hasher: PasswordHasher, settings: AuthSettings
) -> MakeUser:
    """A real user (Argon2id hash), made as registration makes one."""

    async def make(role: Role = "user", password: str | None = None) -> TestUser:
        username = unique_name("user" if role == "user" else "admin")
        secret = password or f"pw-{unique_name()}"
        user = await create_user(
            AuthRepository(db_pool),
            test_hasher,
            PasswordLimits(settings.password_min_length, settings.password_max_length),
            username=username,
            email=f"{username}@example.com",
            password=secret,
            role=role,
            via="admin",
        )
        return TestUser(user.id, user.username, secret)

    return make
