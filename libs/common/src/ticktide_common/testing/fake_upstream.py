"""`FakeUpstream`: the body every fake provider server of the tests shares.

A real HTTP server (Starlette under uvicorn, in a background thread, on a free
port) whose routes a subclass names, with a queue of injected faults (one per
request, first in first out), an optional delay before every answer (a slow
upstream) and a log of the requests it answered. The provider's exact formats
stay in each fake: its route handlers, and `answer_fault` where a fault has a
provider-specific body.

    class FakeThing(FakeUpstream):
        name = "fake-thing"

        def routes(self) -> dict[str, Handler]:
            return {"/api/thing/{id}": self._thing}

        def _thing(self, call: UpstreamCall) -> Answer:
            return 200, {"id": call.path_params["id"]}, {}

    with FakeThing() as fake:                 # or .start() / .stop()
        fake.url                              # http://127.0.0.1:<port>
        fake.fail_next(429, retry_after=1)    # one 429 with Retry-After: 1
        fake.fail_next(503, times=2)          # two 5xx answers
        fake.empty_next()                     # the route answers without data
        fake.set_latency(0.25)                # every answer a quarter second late
        fake.requests("/api/thing/1")         # the request log

Handlers and `answer_fault` run under the fake's lock (a re-entrant one), so
they may read and change the fake's state without taking it themselves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticktide_common.testing.processes import free_port

__all__ = ["Answer", "Fault", "FakeUpstream", "Handler", "RecordedRequest", "UpstreamCall"]

# (status, JSON body, extra headers) of one answer.
Answer = tuple[int, Any, dict[str, str]]


@dataclass(frozen=True)
class Fault:
    """One injected fault. `kind`: "status" (answer `status`, with `body` or
    `{"message": "fake <status>"}`, and `Retry-After` when `retry_after` is set),
    "error" (the provider's error answer: `status`, `code`, `message` are the
    fake's to read) or "empty" (a well-formed answer without the data asked for)."""

    kind: str
    status: int
    retry_after: float | None = None
    body: Any = None
    message: str | None = None
    code: int | None = None

    def retry_after_headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}


@dataclass(frozen=True)
class UpstreamCall:
    """One request as a handler sees it, with the fault drawn for it (if any)."""

    route: str  # the route's template, as `routes()` names it
    path: str  # the path asked for
    params: dict[str, str]
    path_params: dict[str, str]
    headers: dict[str, str]
    fault: Fault | None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered: monotonic and wall time, the path asked
    for, its query, the status answered and the request's headers."""

    at: float
    wall: float
    path: str
    params: dict[str, str]
    status: int
    headers: dict[str, str]


Handler = Callable[[UpstreamCall], Answer]


class FakeUpstream:
    """Lifecycle, fault queue, latency and request log of a fake provider."""

    name = "fake-upstream"
    # Routes that never draw a fault (e.g. a listing the client reads once).
    unfaulted: tuple[str, ...] = ()

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._latency = 0.0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def routes(self) -> dict[str, Handler]:
        """Path template → handler; the subclass's provider format."""
        raise NotImplementedError

    def answer_fault(self, call: UpstreamCall) -> Answer | None:
        """The answer to a request that drew a fault; None: the route's handler
        answers (and reads `call.fault` itself, e.g. for "empty")."""
        fault = call.fault
        if fault is None or fault.kind != "status":
            return None
        body = fault.body if fault.body is not None else {"message": f"fake {fault.status}"}
        return fault.status, body, fault.retry_after_headers()

    def answer_headers(self, call: UpstreamCall, status: int) -> dict[str, str]:
        """Headers every answer carries (e.g. a rate-limit counter); none by default."""
        return {}

    # ---- lifecycle -------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        app = Starlette(
            routes=[
                Route(path, self._endpoint(path, handler))
                for path, handler in self.routes().items()
            ]
        )
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- faults ----------------------------------------------------------
    def fail_next(
        self,
        status: int = 503,
        times: int = 1,
        *,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` requests answer `status` (5xx, or 429 with Retry-After)."""
        self.queue_fault(Fault("status", status, retry_after, body), times)

    def error_next(
        self,
        times: int = 1,
        *,
        status: int = 400,
        message: str | None = None,
        code: int | None = None,
    ) -> None:
        """The next `times` requests answer the provider's error body."""
        self.queue_fault(Fault("error", status, message=message, code=code), times)

    def empty_next(self, times: int = 1) -> None:
        """The next `times` requests answer without the asked-for data."""
        self.queue_fault(Fault("empty", 200), times)

    def queue_fault(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        """Drop injected faults not yet served."""
        with self._lock:
            self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        """Answer every request this much later (a slow upstream)."""
        with self._lock:
            self._latency = seconds

    # ---- request log -----------------------------------------------------
    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """The requests answered so far (those for `path` only, if given), in order."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # ---- dispatch --------------------------------------------------------
    def _endpoint(
        self, route: str, handler: Handler
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            if self._latency:
                await asyncio.sleep(self._latency)
            with self._lock:
                fault = None
                if route not in self.unfaulted and self._faults:
                    fault = self._faults.pop(0)
                call = UpstreamCall(
                    route=route,
                    path=request.url.path,
                    params=dict(request.query_params),
                    path_params={k: str(v) for k, v in request.path_params.items()},
                    headers=dict(request.headers),
                    fault=fault,
                )
                answer = self.answer_fault(call) if fault is not None else None
                status, body, headers = answer if answer is not None else handler(call)
                headers = {**headers, **self.answer_headers(call, status)}
                self._requests.append(
                    RecordedRequest(
                        at=time.monotonic(),
                        wall=time.time(),
                        path=call.path,
                        params=call.params,
                        status=status,
                        headers=call.headers,
                    )
                )
            return JSONResponse(body, status_code=status, headers=headers)

        return endpoint
