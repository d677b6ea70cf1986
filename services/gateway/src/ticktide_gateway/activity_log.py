"""The activity log of what the gateway serves itself: a pure ASGI middleware
that, once the response is sent, records every authenticated state-changing
request (user, `METHOD /route/template`, client IP, user agent, status) with
the lifespan's `ActivityRecorder`, which publishes it off the request path.

Requests proxied to the auth service are not recorded here (auth records its
own): the gateway never authenticates them, so no principal is in their scope.
A request refused for its role or CSRF token is recorded too, with its 403.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticktide_common.activity import ActivityRecorder
from ticktide_common.logging import get_logger
from ticktide_common.principal import Principal
from ticktide_gateway.auth import PRINCIPAL_SCOPE_KEY, STATE_CHANGING_METHODS
from ticktide_gateway.request_metrics import route_template

__all__ = ["ActivityMiddleware"]

log = get_logger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class ActivityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in STATE_CHANGING_METHODS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._record(scope, status)

    @staticmethod
    def _record(scope: Scope, status: int) -> None:
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        recorder = scope.get("state", {}).get("activity")
        if not isinstance(principal, Principal) or not isinstance(recorder, ActivityRecorder):
            return
        client = scope.get("client")
        recorder.record(
            user_id=principal.user_id,
            username=principal.username,
            action=f"{scope['method']} {route_template(scope)}",
            ip_address=client[0] if client else None,
            user_agent=_header(scope, b"user-agent"),
            details={"status": status, "auth": principal.method},
        )
