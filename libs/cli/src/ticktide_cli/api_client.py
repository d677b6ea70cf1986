"""The one place the CLI builds HTTP requests: a typed httpx client of the
gateway's API (base URL, `Authorization: Bearer`, TLS verification from
TICKTIDE_CA_BUNDLE or --insecure, timeouts) that turns every refusal into a
`CliError` carrying the server's `detail`, and a failed connection into a
message naming the URL."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from ticktide_cli.errors import CliError

__all__ = ["ApiClient", "ApiError", "SseEvent", "error_for", "SSE_RETRY_LIMIT"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Consecutive dropped connections of one event stream before the CLI gives up.
SSE_RETRY_LIMIT = 5

_STATUS_HINTS = {
    401: "the server refused the credential (revoked, expired or unknown token): "
    "run `ticktide login`, or set TICKTIDE_TOKEN to a live personal API token",
    403: "forbidden: this needs an administrator's token",
    404: "not found",
    409: "conflict",
    413: "too large",
    422: "refused",
    429: "too many requests; try again shortly",
    503: "the service is unavailable; try again shortly",
}


class ApiError(CliError):
    """The API answered with an error status; `status` and `detail` are the server's."""

    def __init__(self, status: int, detail: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    detail = body.get("detail") if isinstance(body, Mapping) else body
    if isinstance(detail, list):  # FastAPI's 422: one entry per bad field
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, Mapping) and "errors" in body:
        return "; ".join(str(e.get("message", e)) for e in body["errors"])
    return str(detail) if detail is not None else ""


def error_for(response: httpx.Response) -> ApiError:
    """The `CliError` of an error answer: what the status means, and the server's detail."""
    status = response.status_code
    detail = _detail(response)
    hint = _STATUS_HINTS.get(status, f"the server answered {status}")
    if status == 401:
        message = f"{hint} ({detail})" if detail else hint
    else:
        message = f"{hint}: {detail}" if detail else hint
    return ApiError(
        status, detail, f"{response.request.method} {response.request.url.path}: {message}"
    )


def tls_verify(ca_bundle: str | None, insecure: bool) -> ssl.SSLContext | bool:
    """--insecure: no verification; TICKTIDE_CA_BUNDLE: that file's certificates;
    else the system's."""
    if insecure:
        return False
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise CliError(f"TICKTIDE_CA_BUNDLE={ca_bundle}: cannot load it ({exc})") from None
    return True


class ApiClient:
    """`async with ApiClient(url, token) as api: await api.get("/api/health")`."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "ticktide-cli", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            verify=verify,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections),
            transport=transport,
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _unreachable(self, exc: httpx.HTTPError) -> CliError:
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return CliError(
                f"cannot verify the TLS certificate of {self.base_url}: set TICKTIDE_CA_BUNDLE "
                "to the stack's certificate (.run/tls/cert.pem), or pass --insecure"
            )
        return CliError(f"cannot reach the Ticktide API at {self.base_url}: {reason}")

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """The answer when it is 2xx (or in `ok`), else the `CliError` of its status."""
        try:
            response = await self._http.request(
                method, path, json=json, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.is_success or response.status_code in ok:
            return response
        raise error_for(response)

    async def get(self, path: str, **params: Any) -> Any:
        return (await self.request("GET", path, params=params or None)).json()

    async def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Any:
        response = await self.request("POST", path, json=body, headers=headers)
        return response.json() if response.content else None

    async def delete(self, path: str, headers: Mapping[str, str] | None = None) -> None:
        await self.request("DELETE", path, headers=headers)

    async def upload(self, path: str, content: bytes, media_type: str, **params: Any) -> Any:
        response = await self.request(
            "POST", path, content=content, params=params, headers={"Content-Type": media_type}
        )
        return response.json()

    async def events(self, path: str, last_event_id: str | None = None) -> AsyncIterator[SseEvent]:
        """The server-sent events at `path`; a dropped connection resumes with
        `Last-Event-ID` (up to SSE_RETRY_LIMIT times in a row)."""
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            try:
                async with self._http.stream(
                    "GET", path, headers=headers, timeout=httpx.Timeout(60.0, connect=10.0)
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        raise error_for(response)
                    async for event in _parse_sse(response.aiter_lines()):
                        failures = 0
                        if event.id is not None:
                            last_event_id = event.id
                        yield event
                # The server ended the stream (its lifetime cap): resume where it stopped.
                failures += 1
                if failures > SSE_RETRY_LIMIT:
                    raise CliError(f"the event stream at {path} keeps closing without events")
            except httpx.HTTPError as exc:
                failures += 1
                if failures > SSE_RETRY_LIMIT:
                    raise self._unreachable(exc) from None


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    event, event_id = "message", None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data), event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue  # keep-alive comment
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
