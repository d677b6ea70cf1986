"""The common body of the fake weather providers: `ticktide_common`'s
`FakeUpstream` (the HTTP server, injected faults, request log) with a settable
clock, and the deterministic "truth" each fake serves in its own format: one
set of values per (latitude, longitude, moment), with a few decimals, a pure
function of its arguments."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ticktide_common.testing.fake_upstream import (
    Answer,
    FakeUpstream,
    Fault,
    Handler,
    RecordedRequest,
    UpstreamCall,
)

__all__ = [
    "Answer",
    "FakeWeatherServer",
    "Fault",
    "Handler",
    "RecordedRequest",
    "Truth",
    "UpstreamCall",
    "truth",
]

FAKE_WMO_CODES = (0, 1, 2, 3, 45, 61, 63, 71, 80, 95)


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


class FakeWeatherServer(FakeUpstream):
    """The clock shared by the two fakes, over the common `FakeUpstream`."""

    name = "fake-weather"

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self._now: datetime | None = None

    # ---- clock -----------------------------------------------------------
    def set_now(self, moment: datetime | None) -> None:
        """Freeze the fake's clock at `moment` (None: the wall clock again)."""
        with self._lock:
            self._now = moment.astimezone(UTC) if moment else None

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)
