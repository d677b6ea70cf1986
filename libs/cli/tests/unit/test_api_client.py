"""The API client's error mapping: every refusal is a one-line CliError with the
server's detail; a connection failure names the URL; SSE resumes with Last-Event-ID."""

from __future__ import annotations

import httpx
import pytest

from ticktide_cli.api_client import ApiClient, ApiError
from ticktide_cli.errors import CliError


def _client(handler: httpx.MockTransport, token: str | None = "ttk_x") -> ApiClient:
    return ApiClient("https://api.example.test", token, transport=handler)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"detail": "not signed in"}, ["refused the credential", "not signed in"]),
        (403, {"detail": "admins only"}, ["forbidden", "admins only"]),
        (404, {"detail": "no backtest batch 42"}, ["not found", "no backtest batch 42"]),
        (409, {"detail": "you already have 20 live API tokens"}, ["conflict", "20 live"]),
        (
            422,
            {"detail": [{"loc": ["body", "interval"], "msg": "Input should be '1h'"}]},
            ["refused", "interval: Input should be '1h'"],
        ),
        (429, {"detail": "slow down"}, ["too many requests", "slow down"]),
        (503, {"detail": "the bus is down"}, ["unavailable", "the bus is down"]),
        (500, "<html>oops</html>", ["answered 500", "oops"]),
    ],
)
async def test_error_statuses_become_cli_errors(
    status: int, body: object, words: list[str]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    async with _client(httpx.MockTransport(answer)) as api:
        with pytest.raises(ApiError) as caught:
            await api.get("/api/thing")
    assert caught.value.status == status
    message = str(caught.value)
    assert message.startswith("GET /api/thing: ")
    for word in words:
        assert word in message


async def test_bearer_token_is_sent() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"ok": True})

    async with _client(httpx.MockTransport(answer), token="ttk_secret") as api:
        assert await api.get("/api/health") == {"ok": True}
    assert seen == ["Bearer ttk_secret"]


async def test_connection_error_names_the_url() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    async with _client(httpx.MockTransport(answer)) as api:
        with pytest.raises(CliError) as caught:
            await api.get("/api/health")
    assert "cannot reach the Ticktide API at https://api.example.test" in str(caught.value)
    assert not isinstance(caught.value, ApiError)


async def test_certificate_failure_says_what_to_do() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed", request=request)

    async with _client(httpx.MockTransport(answer)) as api:
        with pytest.raises(CliError, match="TICKTIDE_CA_BUNDLE.*--insecure"):
            await api.get("/api/health")


async def test_event_stream_resumes_with_last_event_id() -> None:
    calls: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("last-event-id"))
        if len(calls) == 1:
            body = b'id: 1-0\nevent: progress\ndata: {"done": 1}\n\n: keep-alive\n\n'
        else:
            body = b'id: 2-0\nevent: summary\ndata: {"status": "done"}\n\n'
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async with _client(httpx.MockTransport(answer)) as api:
        events = []
        async for event in api.events("/api/crypto/backtest/batch/b/events"):
            events.append((event.event, event.data, event.id))
            if event.event == "summary":
                break
    assert events == [
        ("progress", '{"done": 1}', "1-0"),
        ("summary", '{"status": "done"}', "2-0"),
    ]
    assert calls == [None, "1-0"]
