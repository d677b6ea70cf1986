"""Wiring only: settings, pool, Redis, bus, the session store, the login and
registration throttles, the activity recorder, routes and error handlers.

`clock` (default `time.time`) drives session timeouts and the throttles'
windows, so tests can move time instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from ticktide_auth.admin_service import AdminService
from ticktide_auth.deps import AuthState
from ticktide_auth.errors import install_error_handlers
from ticktide_auth.openapi import install_openapi
from ticktide_auth.repository import AuthRepository
from ticktide_auth.routes import admin, auth
from ticktide_auth.service import AuthService, TokenPolicy
from ticktide_auth.settings import AuthSettings, get_settings
from ticktide_auth.throttle import LoginThrottle, RegistrationThrottle
from ticktide_common.accounts.creation import PasswordLimits
from ticktide_common.accounts.passwords import PasswordHasher
from ticktide_common.activity import ActivityRecorder
from ticktide_common.body_limit import BodyLimitMiddleware
from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.health import (
    ReadinessCheck,
    bus_check,
    health_router,
    postgres_check,
    redis_check,
)
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.principal_resolver import PrincipalResolver
from ticktide_common.sessions import SessionStore

__all__ = ["create_app", "SERVICE", "MAX_BODY_BYTES"]

SERVICE = "auth"
MAX_BODY_BYTES = 16 * 1024

log = get_logger(__name__)


def create_app(
    settings: AuthSettings | None = None,
    clock: Callable[[], float] | None = None,
    hasher: PasswordHasher | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    now = clock or time.time
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AuthState]:
        async with AsyncExitStack() as stack:
            pool = await create_pool(
                settings.database_url, min_size=1, max_size=8, application_name="ticktide-auth"
            )
            stack.push_async_callback(pool.close)
            # Short timeouts: with Redis gone, answer 503 quickly rather than hang.
            redis = Redis.from_url(
                settings.redis_url, socket_connect_timeout=2.0, socket_timeout=2.0
            )
            stack.push_async_callback(redis.aclose)
            bus = await Bus.connect_with(settings, service=SERVICE)
            stack.push_async_callback(bus.close)
            activity = ActivityRecorder(bus)
            activity.start()
            stack.push_async_callback(activity.close)  # runs before bus.close
            checks.update(
                postgresql=postgres_check(pool), redis=redis_check(redis), rabbitmq=bus_check(bus)
            )
            heartbeat = start_heartbeat(bus, settings, SERVICE, lambda: checks)
            stack.push_async_callback(heartbeat.stop)  # runs before bus.close
            sessions = SessionStore.from_settings(redis, settings, clock=now)
            auth_service = AuthService(
                repo=AuthRepository(pool),
                sessions=sessions,
                throttle=LoginThrottle(
                    redis,
                    settings.ticktide_redis_prefix,
                    max_failures=settings.login_max_failures,
                    window_seconds=settings.login_window_minutes * 60,
                    clock=now,
                ),
                registration_throttle=RegistrationThrottle(
                    redis,
                    settings.ticktide_redis_prefix,
                    max_per_ip=settings.registration_max_per_ip,
                    window_seconds=settings.registration_window_minutes * 60,
                    clock=now,
                ),
                hasher=hasher or PasswordHasher(),
                activity=activity,
                passwords=PasswordLimits(
                    settings.password_min_length,
                    settings.password_max_length,
                    settings.password_min_score,
                ),
                tokens=TokenPolicy(
                    default_days=settings.api_token_default_days,
                    max_days=settings.api_token_max_days,
                    max_live=settings.api_token_max_live_per_user,
                ),
            )
            log.info("auth.started", port=settings.auth_port)
            yield AuthState(
                settings=settings,
                pool=pool,
                sessions=sessions,
                principals=PrincipalResolver(
                    pool, sessions, cookie_name=settings.session_cookie_name
                ),
                auth=auth_service,
                admin=AdminService(auth_service),
            )
            log.info("auth.stopping")

    app = FastAPI(
        title="Ticktide auth",
        version=settings.ticktide_version,
        lifespan=lifespan,
        openapi_url="/api/auth/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app, settings)  # the document declares this deployment's bounds
    app.include_router(health_router(SERVICE, settings.ticktide_version, lambda: checks))
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    return app
