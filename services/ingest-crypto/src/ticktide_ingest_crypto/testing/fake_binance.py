"""A fake Binance REST server for tests: a `FakeUpstream` (a real HTTP server in
a background thread, on a free port) answering `GET /api/v3/klines` in
Binance's exact format.

    fake = FakeBinance().start()               # or: with FakeBinance() as fake:
    fake.add_series("BTCUSDT", "1h", start, end, holes=[t1, t2])
    settings = settings.model_copy(update={"binance_base_url": fake.url})
    ...
    fake.rate_limit_next(retry_after=1)        # one 429 with Retry-After: 1
    fake.fail_next(503, times=2)               # two 5xx answers
    fake.heal("BTCUSDT", "1h")                 # the holes appear at the source
    fake.served_candles("BTCUSDT", "1h")       # what it serves now, as CandleV1
    fake.set_latency(0.25)                     # every answer a quarter second late
    fake.kline_requests()                      # the request log (times, params, status)
    fake.stop()

Semantics follow Binance: bars with `startTime <= openTime <= endTime` (both
optional, milliseconds), oldest first, `limit` default 500 and at most 1000;
only `endTime` → the newest `limit` bars up to it; neither → the newest.
Unknown symbol → 400 `{"code":-1121,"msg":"Invalid symbol."}`. Every answer
carries `X-MBX-USED-WEIGHT-1M` (2 per klines request, reset each UTC minute).
Candles are generated deterministically per (symbol, interval, open time) with
8-decimal strings, like Binance's spot answers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticktide_common.messages import CandleV1
from ticktide_common.testing.fake_upstream import (
    Answer,
    FakeUpstream,
    Handler,
    RecordedRequest,
    UpstreamCall,
)
from ticktide_ingest_crypto.binance import parse_kline
from ticktide_ingest_crypto.gaps import datetime_to_ms, interval_ms, slot_times

__all__ = ["BINANCE_INTERVALS", "FakeBinance", "RecordedRequest", "generated_kline"]

BINANCE_INTERVALS = (
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
Moment = datetime | int


def _ms(moment: Moment) -> int:
    return moment if isinstance(moment, int) else datetime_to_ms(moment)


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _price(symbol: str, moment_ms: int) -> float:
    base = 100 + 90_000 * _unit("fake-base", symbol)
    hours = moment_ms / 3_600_000
    drift = 0.15 * (2 * _unit("fake-drift", symbol, int(hours // 97)) - 1)
    wiggle = 0.02 * (2 * _unit("fake-wiggle", symbol, int(hours)) - 1)
    return base * (1 + drift + wiggle)


def generated_kline(symbol: str, interval: str, open_ms: int) -> list[Any]:
    """The fake's deterministic 12-field kline for one open time."""
    size = interval_ms(interval)
    open_price, close_price = _price(symbol, open_ms), _price(symbol, open_ms + size)
    high = max(open_price, close_price) * (1 + 0.004 * _unit("h", symbol, interval, open_ms))
    low = min(open_price, close_price) * (1 - 0.004 * _unit("l", symbol, interval, open_ms))
    volume = 10 + 5000 * _unit("v", symbol, interval, open_ms)
    taker = volume * _unit("tb", symbol, interval, open_ms)
    mid = (open_price + close_price) / 2
    return [
        open_ms,
        f"{open_price:.2f}000000",
        f"{high:.2f}000000",
        f"{low:.2f}000000",
        f"{close_price:.2f}000000",
        f"{volume:.5f}000",
        open_ms + size - 1,
        f"{volume * mid:.8f}",
        1 + int(9000 * _unit("n", symbol, interval, open_ms)),
        f"{taker:.5f}000",
        f"{taker * mid:.8f}",
        "0",
    ]


@dataclass
class _State:
    series: dict[tuple[str, str], dict[int, list[Any]]] = field(default_factory=dict)
    withheld: dict[tuple[str, str], dict[int, list[Any]]] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)
    weight_minute: int = -1
    weight_used: int = 0
    weight_override: int | None = None


class FakeBinance(FakeUpstream):
    """The fake server and the knobs a test turns; thread-safe."""

    name = "fake-binance"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int | None = None, request_weight: int = 2
    ) -> None:
        super().__init__(host=host, port=port)
        self.request_weight = request_weight
        self._state = _State()

    def routes(self) -> dict[str, Handler]:
        return {"/api/v3/klines": self._klines}

    # ---- data ------------------------------------------------------------
    def add_symbol(self, symbol: str) -> None:
        """Make a symbol known (valid) without any candles."""
        with self._lock:
            self._state.symbols.add(symbol)

    def add_series(
        self,
        symbol: str,
        interval: str,
        start: Moment,
        end: Moment,
        *,
        holes: Iterable[Moment] = (),
    ) -> int:
        """Generated bars for `[start, end)`; `holes` are withheld until `heal`.
        Returns how many bars are served."""
        rows = [
            generated_kline(symbol, interval, t) for t in slot_times(_ms(start), _ms(end), interval)
        ]
        self.put_klines(symbol, interval, rows)
        self.add_holes(symbol, interval, holes)
        return len(self.served_klines(symbol, interval))

    def put_klines(self, symbol: str, interval: str, rows: Iterable[list[Any]]) -> None:
        """Serve these exact 12-field rows (replacing bars with the same open time)."""
        with self._lock:
            self._state.symbols.add(symbol)
            series = self._state.series.setdefault((symbol, interval), {})
            for row in rows:
                series[int(row[0])] = list(row)

    def add_holes(self, symbol: str, interval: str, moments: Iterable[Moment]) -> None:
        with self._lock:
            series = self._state.series.setdefault((symbol, interval), {})
            withheld = self._state.withheld.setdefault((symbol, interval), {})
            for moment in moments:
                open_ms = _ms(moment)
                if open_ms in series:
                    withheld[open_ms] = series.pop(open_ms)

    def heal(self, symbol: str, interval: str, moments: Iterable[Moment] | None = None) -> None:
        """Serve withheld bars again (all of them, or those at `moments`)."""
        with self._lock:
            series = self._state.series.setdefault((symbol, interval), {})
            withheld = self._state.withheld.setdefault((symbol, interval), {})
            wanted = list(withheld) if moments is None else [_ms(m) for m in moments]
            for open_ms in wanted:
                if open_ms in withheld:
                    series[open_ms] = withheld.pop(open_ms)

    def served_klines(
        self, symbol: str, interval: str, start: Moment | None = None, end: Moment | None = None
    ) -> list[list[Any]]:
        """The rows served now with open time in `[start, end)`, oldest first."""
        low = _ms(start) if start is not None else None
        high = _ms(end) if end is not None else None
        with self._lock:
            series = self._state.series.get((symbol, interval), {})
            return [
                list(series[t])
                for t in sorted(series)
                if (low is None or t >= low) and (high is None or t < high)
            ]

    def served_candles(
        self, symbol: str, interval: str, start: Moment | None = None, end: Moment | None = None
    ) -> list[CandleV1]:
        return [parse_kline(row) for row in self.served_klines(symbol, interval, start, end)]

    # ---- faults ----------------------------------------------------------
    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        *,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` klines requests answer `status` (one-shot each)."""
        super().fail_next(
            status,
            times,
            retry_after=retry_after,
            body=body or {"code": -1000, "msg": f"fake {status}"},
        )

    def rate_limit_next(self, retry_after: float = 1.0, *, status: int = 429) -> None:
        """One 429 (or 418) answer with `Retry-After: retry_after`."""
        self.fail_next(
            status,
            retry_after=retry_after,
            body={
                "code": -1003,
                "msg": "Too much request weight used; current limit is 6000 request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live "
                "updates to avoid polling the API.",
            },
        )

    def clear_failures(self) -> None:
        """Drop injected failures not yet served."""
        self.clear_faults()

    def set_used_weight(self, value: int | None) -> None:
        """Report this fixed `X-MBX-USED-WEIGHT-1M` (None: count requests again)."""
        with self._lock:
            self._state.weight_override = value

    # ---- request log -----------------------------------------------------
    def kline_requests(self, symbol: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests()
            if r.path == "/api/v3/klines" and (symbol is None or r.params.get("symbol") == symbol)
        ]

    # ---- the endpoint ----------------------------------------------------
    def answer_headers(self, call: UpstreamCall, status: int) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self._count_weight())}

    def _count_weight(self) -> int:
        minute = int(time.time() // 60)
        if minute != self._state.weight_minute:
            self._state.weight_minute, self._state.weight_used = minute, 0
        self._state.weight_used += self.request_weight
        if self._state.weight_override is not None:
            return self._state.weight_override
        return self._state.weight_used

    def _klines(self, call: UpstreamCall) -> Answer:
        params = call.params
        symbol, interval = params.get("symbol", ""), params.get("interval", "")
        if not symbol:
            return _error(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if symbol not in self._state.symbols:
            return _error(-1121, "Invalid symbol.")
        if interval not in BINANCE_INTERVALS:
            return _error(-1120, "Invalid interval.")
        try:
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
            limit = int(params.get("limit", "500"))
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        if start is not None and end is not None and start > end:
            return _error(-1023, "Start time is greater than end time.")
        series = self._state.series.get((symbol, interval), {})
        times = [
            t for t in sorted(series) if (start is None or t >= start) and (end is None or t <= end)
        ]
        chosen = times[:limit] if start is not None else times[-limit:]
        return 200, [series[t] for t in chosen], {}


def _error(code: int, message: str) -> Answer:
    return 400, {"code": code, "msg": message}, {}
