"""The gateway as the only door to the auth service: `/api/auth/*`,
`/api/admin/users*`, `/api/admin/security-events*` and `/api/admin/activity*`
are forwarded to `AUTH_URL` with any method, unchanged, and auth's answer is
passed back unchanged (status, body, content type, every `Set-Cookie`).

The gateway does not check sessions on these paths: auth authenticates its own
routes, so each request still costs one round trip to the session store. The
client's IP as the gateway determined it (uvicorn's proxy-header handling) goes
in `X-Forwarded-For`; a request id in `X-Request-ID`. Bodies are small JSON
documents: they are read whole, up to `MAX_BODY_BYTES` (413 beyond).
"""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ticktide_common.logging import get_logger
from ticktide_gateway.deps import HttpDep, SettingsDep

__all__ = ["router", "PROXIED_PREFIXES", "MAX_BODY_BYTES"]

log = get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024
PROXIED_PREFIXES = (
    "/api/auth",
    "/api/admin/users",
    "/api/admin/security-events",
    "/api/admin/activity",
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
TIMEOUT_SECONDS = 15.0  # a login hashes a password: far below this

# RFC 9110 §7.6.1 connection-specific fields, plus what the gateway sets or
# recomputes itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {
    "host",
    "content-length",
    "accept-encoding",  # auth answers uncompressed; nginx compresses for the browser
    "x-forwarded-for",
    "x-request-id",
}
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}

router = APIRouter()


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _forwarded_headers(request: Request, request_id: str) -> list[tuple[bytes, bytes]]:
    # Raw bytes both ways: a header is passed on exactly as it came, whatever its charset.
    headers = [
        (name, value)
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in _NOT_FORWARDED
    ]
    if request.client is not None:
        headers.append((b"x-forwarded-for", request.client.host.encode("latin-1")))
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    return headers


async def forward(request: Request, settings: SettingsDep, http: HttpDep) -> Response:
    """Send the request to auth; answer what auth answered."""
    sent_id = request.headers.get("x-request-id", "")
    request_id = sent_id if 0 < len(sent_id) <= 128 and sent_id.isprintable() else uuid.uuid4().hex
    try:
        body = await _read_body(request)
    except _BodyTooLarge:
        return JSONResponse(
            {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
        )
    url = settings.auth_url.rstrip("/") + request.url.path
    try:
        upstream = await http.request(
            request.method,
            url,
            params=list(request.query_params.multi_items()),
            content=body,
            headers=_forwarded_headers(request, request_id),
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        log.error("auth_proxy.unreachable", path=request.url.path, error=repr(exc))
        return JSONResponse(
            {"detail": "the auth service is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    response = Response(content=upstream.content, status_code=upstream.status_code)
    # Response() set its own content-length; keep it, add auth's headers (Set-Cookie
    # may repeat, so the raw list, not a mapping).
    response.raw_headers.extend(
        (name.lower(), value)
        for name, value in upstream.headers.raw
        if name.decode("latin-1").lower() not in _NOT_RETURNED
    )
    return response


for _prefix in PROXIED_PREFIXES:
    for _path in (_prefix, _prefix + "/{path:path}"):
        router.add_api_route(_path, forward, methods=METHODS, include_in_schema=False)
