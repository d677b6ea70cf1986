"""The gateway as `python -m ticktide_gateway` runs it, except that every request
arrives already authenticated (a fixed principal in the ASGI scope, where the
gateway's `authenticate` looks first): bench/auth's reference for "the same
request with the check bypassed". Only bench/auth starts this; nothing in the
product can switch the check off."""

from __future__ import annotations

from ticktide_common.principal import Principal
from ticktide_common.service import run_service
from ticktide_gateway.app import create_app
from ticktide_gateway.auth import PRINCIPAL_SCOPE_KEY
from ticktide_gateway.settings import get_settings

BENCH_PRINCIPAL = Principal(
    user_id=1, username="bench", role="user", method="session", credential_hash="-"
)


class PreAuthenticated:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            scope[PRINCIPAL_SCOPE_KEY] = BENCH_PRINCIPAL
        await self.app(scope, receive, send)


if __name__ == "__main__":
    settings = get_settings()
    app = create_app(settings)
    app.add_middleware(PreAuthenticated)
    run_service(
        app,
        service="gateway-bench-unchecked",
        host=settings.service_host,
        port=settings.gateway_port,
        log_level=settings.log_level,
    )
