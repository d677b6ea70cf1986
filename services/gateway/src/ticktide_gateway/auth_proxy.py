"""The gateway as the only door to the auth service: `/api/auth/*`,
`/api/admin/users*`, `/api/admin/security-events*` and `/api/admin/activity*`
are forwarded to `AUTH_URL` with any method, unchanged, and auth's answer is
passed back unchanged (status, body, content type, every `Set-Cookie`; how:
`forwarding`).

Paths with `.`/`..` segments or encoded slashes are refused (404) before
forwarding: `/api/auth/%2e%2e/%2e%2e/ready` must not reach auth's own /ready.

The gateway does not check sessions on these paths: auth authenticates its own
routes, so each request still costs one round trip to the session store.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ticktide_gateway import forwarding
from ticktide_gateway.deps import HttpDep, SettingsDep

__all__ = ["router", "PROXIED_PREFIXES", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = forwarding.MAX_BODY_BYTES
PROXIED_PREFIXES = (
    "/api/auth",
    "/api/admin/users",
    "/api/admin/security-events",
    "/api/admin/activity",
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
TIMEOUT_SECONDS = 15.0  # a login hashes a password: far below this

router = APIRouter()


async def forward(request: Request, settings: SettingsDep, http: HttpDep) -> Response:
    """Send the request to auth; answer what auth answered."""
    return await forwarding.forward(
        request,
        http,
        settings.auth_url,
        service="auth",
        timeout=TIMEOUT_SECONDS,
        # auth answers uncompressed; nginx compresses for the browser
        drop_request_headers=("accept-encoding",),
        drop_response_headers=("content-encoding",),
        # auth believes the X-Forwarded-For of a request carrying it, nobody else's
        proxy_secret=settings.ticktide_proxy_secret,
    )


for _prefix in PROXIED_PREFIXES:
    for _path in (_prefix, _prefix + "/{path:path}"):
        router.add_api_route(_path, forward, methods=METHODS, include_in_schema=False)
