"""Passing one request on to another Ticktide service and its answer back
unchanged (status, body, content type, every `Set-Cookie`): used for the auth
service's routes (`auth_proxy`) and the web service's pages (`web_proxy`).

Bodies are small (JSON documents, HTML forms): read whole, up to
`MAX_BODY_BYTES` (413 beyond). The client's IP as the gateway determined it
(uvicorn's proxy-header handling) goes in `X-Forwarded-For`; a request id in
`X-Request-ID`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import httpx
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from ticktide_common.logging import get_logger

__all__ = ["MAX_BODY_BYTES", "BodyTooLarge", "read_body", "forward", "request_id_of"]

log = get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024

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
    "x-forwarded-for",
    "x-request-id",
}
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "date", "server"}


class BodyTooLarge(Exception):
    """The request's body is larger than `MAX_BODY_BYTES`."""


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def request_id_of(request: Request) -> str:
    sent = request.headers.get("x-request-id", "")
    return sent if 0 < len(sent) <= 128 and sent.isprintable() else uuid.uuid4().hex


def _forwarded_headers(
    request: Request, request_id: str, dropped: frozenset[str]
) -> list[tuple[bytes, bytes]]:
    # Raw bytes both ways: a header is passed on exactly as it came, whatever its charset.
    headers = [
        (name, value)
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in dropped
    ]
    if request.client is not None:
        headers.append((b"x-forwarded-for", request.client.host.encode("latin-1")))
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    return headers


async def forward(
    request: Request,
    http: httpx.AsyncClient,
    base_url: str,
    *,
    service: str,
    timeout: float,
    path: str | None = None,
    method: str | None = None,
    drop_request_headers: Iterable[str] = (),
    drop_response_headers: Iterable[str] = (),
    status_code: int | None = None,
) -> Response:
    """Send the request (or a GET of `path` instead) to `base_url`; answer what
    that service answered (with `status_code` in its place when given). 503 when
    the service is unreachable, 413 when the body is too large."""
    method = method or request.method
    try:
        body = await read_body(request) if method == request.method else b""
    except BodyTooLarge:
        return JSONResponse(
            {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
        )
    dropped = _NOT_FORWARDED | {h.lower() for h in drop_request_headers}
    if method != request.method:
        dropped = dropped | {"content-type"}
    url = base_url.rstrip("/") + (path if path is not None else request.url.path)
    params: list[tuple[str, str | int | float | bool | None]] = (
        list(request.query_params.multi_items()) if path is None else []
    )
    outgoing = http.build_request(
        method,
        url,
        params=params,
        content=body,
        headers=_forwarded_headers(request, request_id_of(request), dropped),
        timeout=timeout,
    )
    try:
        upstream = await http.send(outgoing, stream=True, follow_redirects=False)
        try:
            # The bytes as sent: a gzip body stays gzip, with its Content-Encoding.
            content = b"".join([chunk async for chunk in upstream.aiter_raw()])
        finally:
            await upstream.aclose()
    except httpx.HTTPError as exc:
        log.error(f"{service}_proxy.unreachable", path=request.url.path, error=repr(exc))
        return JSONResponse(
            {"detail": f"the {service} service is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    not_returned = _NOT_RETURNED | {h.lower() for h in drop_response_headers}
    response = Response(content=content, status_code=status_code or upstream.status_code)
    # Response() set its own content-length; keep it, add the service's headers
    # (Set-Cookie may repeat, so the raw list, not a mapping).
    response.raw_headers.extend(
        (name.lower(), value)
        for name, value in upstream.headers.raw
        if name.decode("latin-1").lower() not in not_returned
    )
    return response
