"""Passing one request on to another Ticktide service and its answer back
unchanged (status, body, content type, every `Set-Cookie`): used for the auth
service's routes (`auth_proxy`) and the web service's pages (`web_proxy`).

Bodies are small (JSON documents, HTML forms): read whole, up to
`MAX_BODY_BYTES` (413 beyond). The client's IP as the gateway determined it
(`ticktide_common.proxy_trust`) goes in `X-Forwarded-For`, with the proxy secret
that makes the next service believe it; a request id in `X-Request-ID`.

What cannot be passed on safely is refused here, before any connection is made:
a path with a `.`/`..` segment or an encoded slash or backslash (it would reach
another route, or another service's /ready and /metrics, once normalised) is 404;
a header name or value that is not valid HTTP (control characters) is 400. Values
lose their surrounding whitespace, which the outgoing HTTP client would refuse.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

import httpx
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from ticktide_common.body_limit import BodyTooLarge, read_bounded_body
from ticktide_common.logging import get_logger
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER

__all__ = [
    "MAX_BODY_BYTES",
    "BodyTooLarge",
    "UnforwardableHeader",
    "read_body",
    "forward",
    "request_id_of",
    "is_forwardable_path",
    "normalised_headers",
]

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
    "x-forwarded-proto",
    "x-request-id",
    PROXY_SECRET_HEADER,
}
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "date", "server"}


class UnforwardableHeader(ValueError):
    """A request header whose name or value is not valid HTTP."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# RFC 9110 §5.1 token characters; a value may hold visible characters, obs-text and
# inner spaces or tabs, never other control characters.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# Refused in the raw path: an encoded slash, backslash or NUL, in either case.
_BAD_RAW_PATH = re.compile(rb"%2f|%5c|%00|\\", re.IGNORECASE)
_DOT_SEGMENTS = frozenset({".", ".."})


def is_forwardable_path(path: str, raw_path: bytes | None) -> bool:
    """False for a path that names something else once normalised: a `.` or `..`
    segment (however encoded: `path` is the decoded form), or an encoded slash,
    backslash or NUL in the raw path."""
    if any(segment in _DOT_SEGMENTS for segment in path.split("/")):
        return False
    if "\\" in path or "\x00" in path:
        return False
    return raw_path is None or _BAD_RAW_PATH.search(raw_path) is None


def normalised_headers(
    raw: Iterable[tuple[bytes, bytes]], dropped: frozenset[str]
) -> list[tuple[bytes, bytes]]:
    """The headers to pass on: `dropped` names left out, values without surrounding
    whitespace; `UnforwardableHeader` for an invalid name or value."""
    headers: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        lowered = name.decode("latin-1").lower()
        if lowered in dropped:
            continue
        if _TOKEN.fullmatch(name) is None:
            raise UnforwardableHeader(name.decode("latin-1")[:64])
        value = value.strip(b" \t")
        if _BAD_VALUE_BYTE.search(value) is not None:
            raise UnforwardableHeader(lowered[:64])
        headers.append((name, value))
    return headers


async def read_body(request: Request) -> bytes:
    """The request's body, at most `MAX_BODY_BYTES` (else `BodyTooLarge`)."""
    return await read_bounded_body(request, MAX_BODY_BYTES)


def request_id_of(request: Request) -> str:
    sent = request.headers.get("x-request-id", "")
    return sent if 0 < len(sent) <= 128 and sent.isprintable() else uuid.uuid4().hex


def _forwarded_headers(
    request: Request, request_id: str, dropped: frozenset[str], proxy_secret: str
) -> list[tuple[bytes, bytes]]:
    # Raw bytes both ways: a header is passed on as it came (trimmed), whatever its charset.
    headers = normalised_headers(request.headers.raw, dropped)
    if request.client is not None:
        headers.append((b"x-forwarded-for", request.client.host.encode("latin-1")))
        # The scheme as the gateway determined it (https through nginx), not as sent.
        headers.append((b"x-forwarded-proto", request.url.scheme.encode("latin-1")))
        if proxy_secret:
            headers.append((PROXY_SECRET_HEADER.encode("latin-1"), proxy_secret.encode()))
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
    proxy_secret: str = "",
) -> Response:
    """Send the request (or a GET of `path` instead) to `base_url`; answer what
    that service answered (with `status_code` in its place when given). 503 when
    the service is unreachable, 413 when the body is too large, 404 for a path
    that is not forwarded, 400 for an invalid header."""
    raw_path = request.scope.get("raw_path")
    if not is_forwardable_path(request.url.path, raw_path):
        log.warning(f"{service}_proxy.refused_path", path=request.url.path[:200])
        return JSONResponse({"detail": "Not Found"}, status_code=404)
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
    # The path as the client encoded it: decoding would turn %3F into a query.
    sent_path = raw_path.decode("latin-1") if raw_path else request.url.path
    url = base_url.rstrip("/") + (path if path is not None else sent_path)
    params: list[tuple[str, str | int | float | bool | None]] = (
        list(request.query_params.multi_items()) if path is None else []
    )
    try:
        headers = _forwarded_headers(request, request_id_of(request), dropped, proxy_secret)
    except UnforwardableHeader as exc:
        log.info(f"{service}_proxy.bad_header", header=exc.name, path=request.url.path[:200])
        return JSONResponse(
            {"detail": f"request header {exc.name!r} has an invalid name or value"},
            status_code=400,
        )
    outgoing = http.build_request(
        method, url, params=params, content=body, headers=headers, timeout=timeout
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
