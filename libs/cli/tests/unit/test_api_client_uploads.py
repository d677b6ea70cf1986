"""`ApiClient.upload` as an import sends it (lean_http, not httpx) against a real
uvicorn over TLS with the stack's kind of certificate: what arrives, connection
reuse, refusals read exactly as the httpx path reads them, unreachable and
untrusted servers named as before, and a configured proxy still honoured."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from ticktide_cli.api_client import ApiClient, ApiError, tls_verify
from ticktide_cli.errors import CliError
from ticktide_common.testing.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[4]
ARCHIVE = "/api/admin/ingest/crypto/archive"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/make-cert.sh"), str(directory)],
        check=True,
        capture_output=True,
    )
    return directory


async def gateway_like(scope: Scope, receive: Receive, send: Send) -> None:
    """202 with what it received; 422 (FastAPI's list detail) for `filename=bad.zip`,
    429 for `filename=busy.zip`."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    query = scope["query_string"].decode()
    status, answer = (
        202,
        {
            "query": query,
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "size": len(body),
            "client_port": scope["client"][1],
        },
    )
    if "bad.zip" in query:
        status, answer = 422, {"detail": [{"loc": ["query", "filename"], "msg": "not a zip"}]}
    elif "busy.zip" in query:
        status, answer = 429, {"detail": "admin has 64 imports not yet stored"}
    payload = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@contextlib.asynccontextmanager
async def tls_server(certificate: Path) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            gateway_like,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            ssl_certfile=str(certificate / "cert.pem"),
            ssl_keyfile=str(certificate / "key.pem"),
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"https://localhost:{port}"
    finally:
        server.should_exit = True
        await task


def _client(url: str, certificate: Path, **kw: object) -> ApiClient:
    verify = tls_verify(str(certificate / "cert.pem"), False)
    return ApiClient(url, "ttk_secret", verify=verify, **kw)  # type: ignore[arg-type]


async def test_uploads_arrive_whole_with_the_clients_headers_on_one_connection(
    certificate: Path,
) -> None:
    async with tls_server(certificate) as url, _client(url, certificate) as api:
        answers = [
            await api.upload(
                ARCHIVE, b"PK" * 20_000, "application/zip", filename=f"BTCUSDT-1h-2024-0{i}.zip"
            )
            for i in range(1, 4)
        ]
    assert [a["query"] for a in answers] == [
        f"filename=BTCUSDT-1h-2024-0{i}.zip" for i in range(1, 4)
    ]
    headers = answers[0]["headers"]
    assert headers["authorization"] == "Bearer ttk_secret"
    assert headers["content-type"] == "application/zip"
    assert headers["user-agent"] == "ticktide-cli"
    assert headers["accept"] == "application/json"
    assert answers[0]["size"] == 40_000
    assert len({a["client_port"] for a in answers}) == 1  # kept alive


@pytest.mark.parametrize("filename", ["bad.zip", "busy.zip"])
async def test_refusals_read_as_the_httpx_path_reads_them(certificate: Path, filename: str) -> None:
    async with tls_server(certificate) as url, _client(url, certificate) as api:
        with pytest.raises(ApiError) as lean:
            await api.upload(ARCHIVE, b"PK", "application/zip", filename=filename)
    through_httpx = ApiClient(
        "https://localhost", "ttk_secret", transport=httpx.ASGITransport(gateway_like)
    )
    async with through_httpx:
        with pytest.raises(ApiError) as reference:
            await through_httpx.upload(ARCHIVE, b"PK", "application/zip", filename=filename)
    assert (lean.value.status, lean.value.detail) == (
        reference.value.status,
        reference.value.detail,
    )
    assert str(lean.value) == str(reference.value)
    assert str(lean.value).startswith(f"POST {ARCHIVE}: ")


async def test_an_untrusted_certificate_and_an_unreachable_server_are_named(
    certificate: Path,
) -> None:
    async with tls_server(certificate) as url:
        async with ApiClient(url, "ttk_x") as api:  # the system's CAs: not the stack's
            with pytest.raises(CliError, match="cannot verify the TLS certificate"):
                await api.upload(ARCHIVE, b"PK", "application/zip", filename="a.zip")
    nowhere = f"https://localhost:{free_port()}"
    async with _client(nowhere, certificate) as api:
        with pytest.raises(CliError, match=f"cannot reach the Ticktide API at {nowhere}"):
            await api.upload(ARCHIVE, b"PK", "application/zip", filename="a.zip")


async def test_a_configured_proxy_is_still_used(
    certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with tls_server(certificate) as url, _client(url, certificate) as api:
            with pytest.raises(CliError):
                await api.upload(ARCHIVE, b"PK", "application/zip", filename="a.zip")
    finally:
        server.close()
        await server.wait_closed()
    assert seen and seen[0].startswith(b"CONNECT localhost:")
