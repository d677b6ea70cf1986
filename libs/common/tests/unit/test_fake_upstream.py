"""`FakeUpstream`, the base of the fake providers: routes with path parameters,
faults served one per request in order (never on an unfaulted route), the
provider's own fault answer, headers on every answer, latency, the request log."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from ticktide_common.testing.fake_upstream import Answer, FakeUpstream, Handler, UpstreamCall


class FakeThing(FakeUpstream):
    name = "fake-thing"
    unfaulted = ("/list",)

    def routes(self) -> dict[str, Handler]:
        return {"/thing/{id}": self._thing, "/list": self._list}

    def answer_fault(self, call: UpstreamCall) -> Answer | None:
        if call.fault is not None and call.fault.kind == "error":
            return 200, {"error": call.fault.message, "code": call.fault.code}, {}
        return super().answer_fault(call)

    def answer_headers(self, call: UpstreamCall, status: int) -> dict[str, str]:
        return {"X-Answered": str(status)}

    def _thing(self, call: UpstreamCall) -> Answer:
        empty = call.fault is not None and call.fault.kind == "empty"
        return 200, {"id": call.path_params["id"], "rows": [] if empty else [1, 2]}, {}

    def _list(self, call: UpstreamCall) -> Answer:
        return 200, ["a", "b"], {}


@pytest.fixture
def fake() -> Iterator[FakeThing]:
    with FakeThing() as server:
        yield server


def test_faults_are_served_in_order_one_per_request(fake: FakeThing) -> None:
    fake.fail_next(429, retry_after=2)
    fake.fail_next(503, times=2, body={"oops": True})
    fake.error_next(message="no such thing", code=7)
    fake.empty_next()
    with httpx.Client(base_url=fake.url) as http:
        answers = [http.get("/thing/x1") for _ in range(6)]
    assert [a.status_code for a in answers] == [429, 503, 503, 200, 200, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].json() == {"message": "fake 429"}
    assert answers[1].json() == {"oops": True} and "Retry-After" not in answers[1].headers
    assert answers[3].json() == {"error": "no such thing", "code": 7}
    assert answers[4].json() == {"id": "x1", "rows": []}
    assert answers[5].json() == {"id": "x1", "rows": [1, 2]}
    assert all(a.headers["X-Answered"] == str(a.status_code) for a in answers)


def test_an_unfaulted_route_leaves_the_faults_to_the_next_request(fake: FakeThing) -> None:
    fake.fail_next(500)
    with httpx.Client(base_url=fake.url) as http:
        assert http.get("/list").json() == ["a", "b"]
        assert http.get("/thing/1").status_code == 500
        fake.fail_next(500)
        fake.clear_faults()
        assert http.get("/thing/1").status_code == 200


def test_the_request_log_and_latency(fake: FakeThing) -> None:
    fake.set_latency(0.2)
    started = time.monotonic()
    with httpx.Client(base_url=fake.url, headers={"User-Agent": "tests"}) as http:
        http.get("/thing/7", params={"q": "1"})
        http.get("/list")
    assert time.monotonic() - started >= 0.4
    (request,) = fake.requests("/thing/7")
    assert (request.path, request.params, request.status) == ("/thing/7", {"q": "1"}, 200)
    assert request.headers["user-agent"] == "tests"
    assert request.at >= started and request.wall > 0
    assert [r.path for r in fake.requests()] == ["/thing/7", "/list"]
    fake.clear_requests()
    assert fake.requests() == []
