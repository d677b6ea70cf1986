"""The common body of the fake weather providers: a real HTTP server (Starlette
under uvicorn, in a background thread, on a free port), a queue of injected
faults, a request log, a settable clock, and the deterministic "truth" each
fake serves in its own format: one set of values per (latitude, longitude,
moment), with a few decimals, a pure function of its arguments."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticktide_common.testing.processes import free_port

__all__ = ["Answer", "FakeWeatherServer", "RecordedRequest", "Truth", "truth"]

Answer = tuple[int, Any, dict[str, str]]
FAKE_WMO_CODES = (0, 1, 2, 3, 45, 61, 63, 71, 80, 95)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received: wall time, path, query, answered status."""

    at: float
    path: str
    params: dict[str, str]
    status: int


@dataclass(frozen=True)
class Truth:
    """The fake weather at one place and moment, before any provider's units."""

    celsius: float
    humidity: int
    pressure_msl: float
    surface_pressure: float
    wind_ms: float
    wmo_code: int


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def truth(latitude: float, longitude: float, moment: datetime) -> Truth:
    """The deterministic weather of (latitude, longitude) at `moment`."""
    stamp = int(moment.astimezone(UTC).timestamp())
    key = f"{latitude:.4f}:{longitude:.4f}"
    hours = stamp / 3600
    celsius = (
        25 - 0.35 * abs(latitude) + 6 * math.sin(2 * math.pi * hours / 24 + longitude / 57.3)
    ) + 4 * (_unit("t", key, stamp) - 0.5)
    pressure = 1000 + 30 * _unit("p", key, stamp // 21600) + 2 * _unit("pp", key, stamp)
    return Truth(
        celsius=round(celsius, 1),
        humidity=30 + int(70 * _unit("h", key, stamp)),
        pressure_msl=round(pressure, 1),
        surface_pressure=round(pressure - 5 * _unit("s", key), 1),
        wind_ms=round(14 * _unit("w", key, stamp), 2),
        wmo_code=FAKE_WMO_CODES[int(len(FAKE_WMO_CODES) * _unit("c", key, stamp))],
    )


@dataclass
class _Fault:
    kind: str  # "status", "error", "empty"
    status: int
    retry_after: float | None = None
    message: str | None = None


@dataclass
class _State:
    faults: list[_Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    now: datetime | None = None


class FakeWeatherServer:
    """Lifecycle, faults, request log and clock shared by the two fakes."""

    name = "fake-weather"

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._state = _State()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def routes(self) -> dict[str, Callable[[dict[str, str]], Answer]]:
        raise NotImplementedError

    def answer_fault(self, fault: _Fault, path: str, params: dict[str, str]) -> Answer:
        raise NotImplementedError

    # ---- lifecycle -------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Any:
        app = Starlette(
            routes=[
                Route(path, self._endpoint(path, answer)) for path, answer in self.routes().items()
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

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clock -----------------------------------------------------------
    def set_now(self, moment: datetime | None) -> None:
        """Freeze the fake's clock at `moment` (None: the wall clock again)."""
        with self._lock:
            self._state.now = moment.astimezone(UTC) if moment else None

    def now(self) -> datetime:
        return self._state.now or datetime.now(UTC)

    # ---- faults ----------------------------------------------------------
    def fail_next(
        self, status: int = 503, times: int = 1, *, retry_after: float | None = None
    ) -> None:
        """The next `times` requests answer `status` (5xx, or 429 with Retry-After)."""
        self._queue(_Fault("status", status, retry_after), times)

    def error_next(self, times: int = 1, *, status: int = 400, message: str | None = None) -> None:
        """The next `times` requests answer the provider's error body."""
        self._queue(_Fault("error", status, message=message), times)

    def empty_next(self, times: int = 1) -> None:
        """The next `times` requests answer 200 without the asked-for observations."""
        self._queue(_Fault("empty", 200), times)

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._state.faults.extend([fault] * times)

    # ---- request log -----------------------------------------------------
    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._state.requests if path is None or r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.requests.clear()

    # ---- dispatch --------------------------------------------------------
    def _endpoint(
        self, path: str, answer: Callable[[dict[str, str]], Answer]
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            params = dict(request.query_params)
            with self._lock:
                fault = self._state.faults.pop(0) if self._state.faults else None
            if fault is not None:
                status, body, headers = self.answer_fault(fault, path, params)
            else:
                status, body, headers = answer(params)
            with self._lock:
                self._state.requests.append(RecordedRequest(time.time(), path, params, status))
            return JSONResponse(body, status_code=status, headers=headers)

        return endpoint


def retry_after_headers(fault: _Fault) -> dict[str, str]:
    return {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
