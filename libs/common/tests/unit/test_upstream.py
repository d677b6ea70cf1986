"""The shared upstream retry policy against scripted answers (httpx.MockTransport):
what is retried, how long it waits, what is raised in the end, and that a
rejection or a good answer is never retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ticktide_common.errors import PermanentError, TransientError
from ticktide_common.settings import UpstreamHttpSettings
from ticktide_common.upstream import (
    DEFAULT_RETRY_AFTER_SECONDS,
    UpstreamClient,
    UpstreamEmptyError,
    UpstreamFormatError,
    UpstreamRejectedError,
    UpstreamThrottledError,
    UpstreamUnavailableError,
    parse_retry_after,
)

Answer = httpx.Response | Exception


class Script:
    """Answers the requests in order (the last one repeats) and remembers them."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def client(script: Script, sleeps: Sleeps, **options: Any) -> UpstreamClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(script), base_url="http://up.test")
    return UpstreamClient(http, provider="Prov", sleep=sleeps, **options)


def rows(body: Any) -> list[int]:
    if not body["rows"]:
        raise UpstreamEmptyError("no rows for X")
    return list(body["rows"])


async def test_a_good_answer_is_parsed_once_with_params_and_headers() -> None:
    script, sleeps = Script(ok({"rows": [1, 2]})), Sleeps()
    upstream = client(script, sleeps, headers={"User-Agent": "browser"})
    assert await upstream.get("/q", {"a": "1", "n": 2}, rows, what="X") == [1, 2]
    (request,) = script.requests
    assert str(request.url) == "http://up.test/q?a=1&n=2"
    assert request.headers["User-Agent"] == "browser"
    assert sleeps.waits == []


async def test_5xx_backs_off_exponentially_up_to_the_cap_then_gives_up() -> None:
    script, sleeps = Script(httpx.Response(503, text="busy")), Sleeps()
    upstream = client(script, sleeps, max_attempts=6, backoff_seconds=0.5, max_backoff_seconds=4)
    with pytest.raises(UpstreamUnavailableError, match=r"Prov answered 503: 'busy' \(6 tries\)"):
        await upstream.get("/q", None, rows, what="X")
    assert sleeps.waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(script.requests) == 6


async def test_a_transient_failure_then_success() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(408),
        ok({"rows": [7]}),
    )
    sleeps = Sleeps()
    assert await client(script, sleeps).get("/q", None, rows, what="X") == [7]
    assert sleeps.waits == [0.5, 1.0, 2.0]


async def test_unreachable_names_the_target() -> None:
    script, sleeps = Script(httpx.ConnectError("refused")), Sleeps()
    with pytest.raises(UpstreamUnavailableError, match=r"unreachable at http://up.test/q.*2 tries"):
        await client(script, sleeps, max_attempts=2).get("/q", None, rows, what="X")


async def test_empty_answers_are_retried_and_stay_empty() -> None:
    script, sleeps = Script(ok({"rows": []}), ok({"rows": []}), ok({"rows": [3]})), Sleeps()
    assert await client(script, sleeps).get("/q", None, rows, what="X") == [3]
    script = Script(ok({"rows": []}))
    with pytest.raises(UpstreamEmptyError, match="Prov answered empty 3 times: no rows for X"):
        await client(script, sleeps, max_attempts=3).get("/q", None, rows, what="X")
    assert len(script.requests) == 3


async def test_429_waits_at_least_retry_after_capped() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "9999"}),
        httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        ok({"rows": [1]}),
    )
    sleeps = Sleeps()
    upstream = client(script, sleeps, max_retry_after_seconds=60)
    assert await upstream.get("/q", None, rows, what="X") == [1]
    assert sleeps.waits == [7.0, 60.0, 2.0]
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(UpstreamThrottledError, match=r"kept answering 429 \(2 times\)") as caught:
        await client(script, sleeps, max_attempts=2).get("/q", None, rows, what="X")
    assert not isinstance(caught.value, UpstreamUnavailableError)


def refuse_shape(body: Any) -> Any:
    raise UpstreamFormatError("bad shape")


@pytest.mark.parametrize(
    ("answer", "parse", "match"),
    [
        (httpx.Response(200, text="<html>captcha</html>"), rows, "non-JSON: '<html>"),
        (ok({}), lambda body: int(body.get("n", "x")), "malformed data: invalid literal"),
        (ok({}), refuse_shape, "bad shape"),
    ],
)
async def test_malformed_answers_are_retried_then_permanent(
    answer: httpx.Response, parse: Callable[[Any], Any], match: str
) -> None:
    script, sleeps = Script(answer), Sleeps()
    with pytest.raises(UpstreamFormatError, match=match) as caught:
        await client(script, sleeps, max_attempts=2).get("/q", None, parse, what="X")
    assert isinstance(caught.value, PermanentError)
    assert len(script.requests) == 2 and sleeps.waits == [0.5]


async def test_4xx_is_rejected_at_once_with_the_providers_reason() -> None:
    def reason_of(status: int, body: Any) -> str | None:
        return f"{body['reason']} [{status}]" if isinstance(body, dict) else None

    sleeps = Sleeps()
    script = Script(httpx.Response(400, json={"error": True, "reason": "date out of range"}))
    upstream = client(script, sleeps, reason_of=reason_of)
    with pytest.raises(UpstreamRejectedError) as caught:
        await upstream.get("/q", None, rows, what="Helsinki 2024")
    error = caught.value
    assert str(error) == "Prov rejected Helsinki 2024 (400): date out of range [400]"
    assert (error.provider, error.status, error.reason) == ("Prov", 400, "date out of range [400]")
    assert isinstance(error, PermanentError) and not isinstance(error, TransientError)
    # No hook, or a body the hook does not know: the text itself.
    script = Script(httpx.Response(401, text="Invalid API key"))
    with pytest.raises(UpstreamRejectedError, match=r"\(401\): Invalid API key"):
        await client(script, sleeps).get("/q", None, rows, what="X")
    assert len(script.requests) == 1 and sleeps.waits == []


async def test_a_rejection_raised_by_parse_is_not_retried() -> None:
    def parse(body: Any) -> Any:
        raise UpstreamRejectedError("Prov", 200, body["message"], what="AAPL")

    script, sleeps = Script(ok({"message": "Symbol not exists."})), Sleeps()
    with pytest.raises(UpstreamRejectedError, match="Prov rejected AAPL .200.: Symbol not exists"):
        await client(script, sleeps).get("/q", None, parse, what="X")
    assert len(script.requests) == 1 and sleeps.waits == []


def test_error_hierarchy() -> None:
    assert issubclass(UpstreamEmptyError, UpstreamUnavailableError)
    assert issubclass(UpstreamUnavailableError, TransientError)
    assert issubclass(UpstreamThrottledError, TransientError)
    assert issubclass(UpstreamFormatError, PermanentError)
    assert issubclass(UpstreamRejectedError, PermanentError)
    assert str(UpstreamRejectedError("P", None, "not listed", what="NDA FI")) == (
        "P rejected NDA FI: not listed"
    )


def test_parse_retry_after() -> None:
    assert parse_retry_after("3.5", 10) == 3.5
    assert parse_retry_after("99", 10) == 10
    assert parse_retry_after("99") == 99.0  # no cap unless one is given
    # Absent or unusable: the one default (an HTTP date is not read).
    assert parse_retry_after(None, 10) == DEFAULT_RETRY_AFTER_SECONDS == 1.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 10) == 1.0
    assert parse_retry_after("-2", 10) == 1.0
    assert parse_retry_after("nan") == 1.0
    assert parse_retry_after(None, default=5.0) == 5.0


def test_from_settings_uses_the_http_settings() -> None:
    settings = UpstreamHttpSettings(http_max_attempts=7, http_backoff_seconds=0.25)
    http = httpx.AsyncClient()
    upstream = UpstreamClient.from_settings(settings, http, provider="P", headers={"A": "b"})
    assert (upstream.max_attempts, upstream.provider, upstream.headers) == (7, "P", {"A": "b"})
