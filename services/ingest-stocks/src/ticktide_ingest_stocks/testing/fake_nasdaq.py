"""A fake api.nasdaq.com for tests: ONE `FakeUpstream` (a real HTTP server in a
background thread, on a free port) serving both NASDAQ's US historical
quotes and the Nasdaq Nordic routes, in the providers' formats (see
`ticktide_ingest_stocks.nasdaq` and `.nordic` for what they are based on).

    fake = FakeNasdaq().start()                 # or: with FakeNasdaq() as fake:
    settings = settings.model_copy(update={"nasdaq_base_url": fake.url,
                                           "nasdaq_nordic_base_url": fake.url})
    fake.add_us_series("AAPL", date(2024, 1, 1), date(2024, 4, 1), holes=[date(2024, 2, 6)])
    fake.add_nordic_series("NDA FI", start, end)       # listed in the Helsinki screener
    fake.served_us_rows("AAPL")                 # rows as served ("$184.40"), oldest first
    fake.fail_next(503, times=2)                # the next data requests answer 503
    fake.error_block_next()                     # ... 200 with an error status block
    fake.empty_next()                           # ... 200 with no rows
    fake.heal("AAPL")                           # withheld sessions appear
    fake.requests()                             # (path, params, status, headers) log
    fake.stop()

Routes:
- `GET /api/quote/{symbol}/historical?assetclass=stocks&fromdate=&todate=&limit=`:
  rows of XNAS sessions in `[fromdate, todate]`, newest first, at most `limit`
  (the newest); unknown symbol → 200 `{"data": null, ... "rCode": 400,
  "bCodeMessage": [{"code": 1001, "errorMessage": "Symbol not exists."}]}`.
- `GET /api/nordic/screener/shares?category=MAIN_MARKET&tableonly=false&market=HEL`:
  every Nordic series added (other markets: no rows).
- `GET /api/nordic/instruments/{orderbookId}/chart/download?assetClass=SHARES&fromDate=&toDate=`:
  rows of XHEL sessions, newest first, `open` "" (Helsinki publishes none);
  unknown orderbook id → an error status block (`code 1001`, "Instrument not found").
Injected faults (`fail_next`, `error_block_next`, `empty_next`) apply, in order,
to the next data requests (historical and chart), not to the screener.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ticktide_common.testing.fake_upstream import (
    Answer,
    FakeUpstream,
    Handler,
    RecordedRequest,
    UpstreamCall,
)
from ticktide_ingest_stocks.calendar import sessions_between
from ticktide_ingest_stocks.nasdaq import HISTORICAL_HEADERS
from ticktide_ingest_stocks.nordic import CHART_HEADERS, HELSINKI_MARKET

__all__ = ["FakeNasdaq", "RecordedRequest", "nordic_row", "us_row"]

Row = dict[str, str]
HISTORICAL = "/api/quote/{symbol}/historical"
SCREENER = "/api/nordic/screener/shares"
CHART = "/api/nordic/instruments/{orderbook}/chart/download"


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _grouped(value: float, places: int) -> str:
    return f"{value:,.{places}f}"


def us_row(symbol: str, day: date) -> Row:
    """The fake's deterministic NASDAQ row of one session (provider strings)."""
    base = 100 + 1400 * _unit("us-base", symbol)  # some above 1,000: "$1,341.07"
    close = base * (1 + 0.2 * (_unit("us-close", symbol, day) - 0.5))
    open_ = close * (1 + 0.03 * (_unit("us-open", symbol, day) - 0.5))
    high = max(open_, close) * (1 + 0.02 * _unit("us-high", symbol, day))
    low = min(open_, close) * (1 - 0.02 * _unit("us-low", symbol, day))
    places = 4 if _unit("us-places", symbol, day) < 0.2 else 2
    volume = int(2_000_000 + 80_000_000 * _unit("us-volume", symbol, day))
    return {
        "date": day.strftime("%m/%d/%Y"),
        "close": "$" + _grouped(close, places),
        "volume": f"{volume:,}",
        "open": "$" + _grouped(open_, places),
        "high": "$" + _grouped(max(high, open_, close), places),
        "low": "$" + _grouped(min(low, open_, close), places),
    }


def nordic_row(symbol: str, day: date) -> Row:
    """The fake's deterministic Nasdaq Nordic chart row of one session."""
    base = 3 + 60 * _unit("fi-base", symbol)
    close = base * (1 + 0.2 * (_unit("fi-close", symbol, day) - 0.5))
    high = close * (1 + 0.02 * _unit("fi-high", symbol, day))
    low = close * (1 - 0.02 * _unit("fi-low", symbol, day))
    average = (high + low + close) / 3
    places = 4 if close < 10 else 2
    volume = int(200_000 + 9_000_000 * _unit("fi-volume", symbol, day))
    return {
        "dateTime": day.isoformat(),
        "bid": f"{close:.{places}f}",
        "ask": f"{close * 1.001:.{places}f}",
        "open": "",
        "high": f"{high:.{places}f}",
        "low": f"{low:.{places}f}",
        "close": f"{close:.{places}f}",
        "average": f"{average:.4f}",
        "totalVolume": f"{volume:,}",
        "turnover": _grouped(volume * average, 2),
        "trades": f"{int(100 + 5000 * _unit('fi-trades', symbol, day)):,}",
    }


@dataclass
class _Listing:
    orderbook_id: str
    full_name: str
    currency: str
    isin: str
    rows: dict[date, Row] = field(default_factory=dict)
    withheld: dict[date, Row] = field(default_factory=dict)


@dataclass
class _State:
    us: dict[str, dict[date, Row]] = field(default_factory=dict)
    us_withheld: dict[str, dict[date, Row]] = field(default_factory=dict)
    nordic: dict[str, _Listing] = field(default_factory=dict)  # by provider symbol


def _status(r_code: int = 200, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"rCode": r_code, "bCodeMessage": messages, "developerMessage": None}


def _error_body(code: int, message: str, nordic: bool = False) -> dict[str, Any]:
    status = _status(400, [{"code": code, "errorMessage": message}])
    if nordic:
        status = {"timestamp": _now_text(), **status}
    return {"data": None, "message": None, "status": status}


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _dates(params: dict[str, str], first: str, last: str) -> tuple[date, date] | None:
    try:
        return date.fromisoformat(params[first]), date.fromisoformat(params[last])
    except (KeyError, ValueError):
        return None


class FakeNasdaq(FakeUpstream):
    """The fake server and the knobs a test turns; thread-safe."""

    name = "fake-nasdaq"
    unfaulted = (SCREENER,)

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self._state = _State()

    def routes(self) -> dict[str, Handler]:
        return {HISTORICAL: self._historical, SCREENER: self._screener, CHART: self._chart}

    # ---- data ------------------------------------------------------------
    def add_us_series(
        self, symbol: str, start: date, end: date, *, holes: Iterable[date] = ()
    ) -> int:
        """Rows for the XNAS sessions in `[start, end)`; `holes` are withheld until
        `heal`. Returns how many rows are served."""
        with self._lock:
            series = self._state.us.setdefault(symbol, {})
            withheld = self._state.us_withheld.setdefault(symbol, {})
            for day in sessions_between("NASDAQ", start, end):
                series[day] = us_row(symbol, day)
            for day in holes:
                if day in series:
                    withheld[day] = series.pop(day)
            return len(series)

    def add_nordic_series(
        self,
        symbol: str,
        start: date,
        end: date,
        orderbook_id: str | None = None,
        *,
        holes: Iterable[date] = (),
        full_name: str | None = None,
    ) -> int:
        """Rows for the XHEL sessions in `[start, end)` of `symbol` as Nasdaq
        spells it ('NDA FI'), listed in the screener with `orderbook_id`
        (default: a stable 'TX…' id). Returns how many rows are served."""
        with self._lock:
            listing = self._state.nordic.get(symbol)
            if listing is None:
                number = 10000 + int(90000 * _unit("orderbook", symbol))
                listing = _Listing(
                    orderbook_id=orderbook_id or f"TX{number}",
                    full_name=full_name or f"{symbol.title()} Oyj",
                    currency="EUR",
                    isin=f"FI{int(1e10 * _unit('isin', symbol)):010d}",
                )
                self._state.nordic[symbol] = listing
            elif orderbook_id:
                listing.orderbook_id = orderbook_id
            for day in sessions_between("OMXH", start, end):
                listing.rows[day] = nordic_row(symbol, day)
            for day in holes:
                if day in listing.rows:
                    listing.withheld[day] = listing.rows.pop(day)
            return len(listing.rows)

    def orderbook_id(self, symbol: str) -> str:
        with self._lock:
            return self._state.nordic[symbol].orderbook_id

    def heal(self, symbol: str) -> None:
        """Serve the withheld sessions of `symbol` (US or Nordic) again."""
        with self._lock:
            withheld = self._state.us_withheld.get(symbol, {})
            self._state.us.setdefault(symbol, {}).update(withheld)
            withheld.clear()
            listing = self._state.nordic.get(symbol)
            if listing is not None:
                listing.rows.update(listing.withheld)
                listing.withheld.clear()

    def served_us_rows(self, symbol: str) -> list[Row]:
        """The rows served now, exactly as served (provider strings), oldest first."""
        with self._lock:
            series = self._state.us.get(symbol, {})
            return [dict(series[day]) for day in sorted(series)]

    def served_nordic_rows(self, symbol: str) -> list[Row]:
        with self._lock:
            listing = self._state.nordic.get(symbol)
            rows = listing.rows if listing else {}
            return [dict(rows[day]) for day in sorted(rows)]

    # ---- faults ----------------------------------------------------------
    def error_block_next(
        self, *, times: int = 1, message: str = "Symbol not exists.", code: int = 1001
    ) -> None:
        """The next `times` data requests answer 200 with an error status block."""
        self.error_next(times, status=200, message=message, code=code)

    # ---- the endpoints ---------------------------------------------------
    def answer_fault(self, call: UpstreamCall) -> Answer | None:
        fault = call.fault
        if fault is not None and fault.kind == "error":
            body = _error_body(fault.code or 1001, fault.message or "", nordic=call.route == CHART)
            return 200, body, {}
        return super().answer_fault(call)  # "status"; "empty" is the route's

    def _historical(self, call: UpstreamCall) -> Answer:
        symbol, params = call.path_params["symbol"], call.params
        empty = call.fault is not None and call.fault.kind == "empty"
        if symbol.upper() not in self._state.us:
            return 200, _error_body(1001, "Symbol not exists."), {}
        span = _dates(params, "fromdate", "todate")
        if span is None or span[0] > span[1]:
            return 200, _error_body(1011, "Provided date is less than from date"), {}
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            limit = 10
        series = self._state.us[symbol.upper()]
        days = [d for d in sorted(series, reverse=True) if span[0] <= d <= span[1]]
        if empty:
            days = []
        rows = [series[d] for d in days[: max(limit, 0)]]
        table = {"asOf": None, "headers": HISTORICAL_HEADERS, "rows": rows or None}
        data = {"symbol": symbol.upper(), "totalRecords": len(days), "tradesTable": table}
        return 200, {"data": data, "message": None, "status": _status()}, {}

    def _screener(self, call: UpstreamCall) -> Answer:
        params = call.params
        listings = self._state.nordic.items() if params.get("market") == HELSINKI_MARKET else []
        rows = [
            {
                "fullName": listing.full_name,
                "currency": listing.currency,
                "lastSalePrice": (list(listing.rows.values()) or [{"close": ""}])[-1]["close"],
                "volume": "",
                "turnover": "",
                "orderbookId": listing.orderbook_id,
                "assetClass": "SHARES",
                "symbol": symbol,
                "sector": "Industrials",
                "isin": listing.isin,
            }
            for symbol, listing in sorted(listings)
        ]
        body = {
            "data": {
                "instrumentListing": {"headers": {"fullName": "Name"}, "rows": rows},
                "pagination": {"total": len(rows), "size": len(rows), "page": 1},
                "filters": None,
            },
            "messages": None,
            "status": {"timestamp": _now_text(), **_status()},
        }
        return 200, body, {}

    def _chart(self, call: UpstreamCall) -> Answer:
        orderbook, params = call.path_params["orderbook"], call.params
        empty = call.fault is not None and call.fault.kind == "empty"
        found = [(s, lst) for s, lst in self._state.nordic.items() if lst.orderbook_id == orderbook]
        if not found:
            return 200, _error_body(1001, "Instrument not found", nordic=True), {}
        span = _dates(params, "fromDate", "toDate")
        if span is None or span[0] > span[1]:
            return 200, _error_body(1011, "Provided date is less than from date", nordic=True), {}
        symbol, listing = found[0]
        days = [d for d in sorted(listing.rows, reverse=True) if span[0] <= d <= span[1]]
        if empty:
            days = []
        chart_data = {
            "orderbookId": orderbook,
            "assetClass": "SHARES",
            "isin": listing.isin,
            "symbol": symbol,
            "company": listing.full_name,
            "timeAsOf": max(listing.rows).isoformat() if listing.rows else "",
        }
        charts = {"headers": CHART_HEADERS, "rows": [listing.rows[d] for d in days]}
        status = {"timestamp": _now_text(), **_status()}
        body = {"data": {"chartData": chart_data, "charts": charts}, "messages": None}
        return 200, {**body, "status": status}, {}
