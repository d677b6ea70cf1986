"""`/backtests` (the form generated from the strategies' JSON Schemas, the
live view of a submitted batch, the user's batches) and `/backtests/<id>` (a
batch's status and results, live while it runs), with one result in detail
(`/backtests/<id>/result`: price chart with the trades, equity, drawdown,
metrics, trade list) and up to four side by side (`/backtests/<id>/compare`).

Without JavaScript the form posts here, is checked with `grid_syntax` and
goes on to `POST /api/crypto/backtest/batch`; with it, static/js/backtest_form.js
does the same from the browser and follows the batch's SSE stream.

Batch results carry metrics only; a result's trades and equity come from
running that one parameter set again in detail (`POST /api/crypto/backtest/run`:
the same candles and semantics give the same metrics), remembered here per
user for a while so that paging the trade list or comparing does not rerun it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.grid_syntax import (
    GridSyntaxError,
    ParamSpec,
    combinations,
    format_values,
    param_specs,
    parse_symbols,
    parse_values,
)
from ticktide_web.rendering import PageContext

router = APIRouter()

API = "/api/crypto/backtest"
INTERVALS = ("1h", "4h", "1d")
# The table's metric columns (CONTRACT §2: every result has them), then the rest.
METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades",
    "exposure",
    "final_equity",
)
EXTRA_METRICS = ("calmar", "expectancy", "max_drawdown_duration")
RANK_BY = (
    *METRICS[:5],
    "max_drawdown_duration",
    "calmar",
    *METRICS[5:7],
    "expectancy",
    *METRICS[7:],
)
LOWER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_duration"})
PERCENT = frozenset({"total_return", "cagr", "max_drawdown", "win_rate", "exposure"})
COUNTS = frozenset({"trades", "max_drawdown_duration"})
TEXT_COLUMNS = ("symbol", "interval", "params")
RESULTS_FETCH = 5000  # results sorted here; more than that: the best by rank_by
RESULTS_PAGE = 100
TRADES_PAGE = 250
BATCHES_PAGE = 20
COMPARE_MAX = 4
_RUNS_KEPT = 64
_DEFAULTS = {"fee": "0.001", "slippage_bps": "0", "initial_cash": "10000", "rank_by": "sharpe"}

_runs: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()


# ---------------------------------------------------------------- formatting


def metric_text(name: str, value: Any) -> str:
    """A metric as the tables show it (mirrored by static/js/backtest_format.js)."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    if name in PERCENT:
        return f"{number * 100:.2f} %"
    if name in COUNTS:
        return f"{int(number):,}"
    if name in ("final_equity", "expectancy"):
        return f"{number:,.2f}"
    return f"{number:.2f}"


def params_text(params: dict[str, Any]) -> str:
    if params.get("walk_forward") == "out_of_sample":
        return f"walk-forward out-of-sample ({len(params.get('windows') or [])} windows)"
    shown = ", ".join(
        f"{k}={format_values([v])}" for k, v in params.items() if k not in ("walk_forward",)
    )
    if params.get("walk_forward") == "in_sample":
        return f"in-sample best: {shown}"
    return shown or "defaults"


def json_block(data: Any) -> Markup:
    """JSON for a `<script type="application/json">` block (never executed; CSP
    allows it): `<`, `>` and `&` escaped so nothing can close the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above


def canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _when(epoch: Any) -> str:
    try:
        return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


HELPERS: dict[str, Any] = {
    "metric_text": metric_text,
    "params_text": params_text,
    "json_block": json_block,
    "canonical": canonical,
    "epoch_when": _when,
    "duration": _duration,
    "METRICS": METRICS,
    "EXTRA_METRICS": EXTRA_METRICS,
    "LOWER_IS_BETTER": LOWER_IS_BETTER,
}


# ---------------------------------------------------------------- the form


async def _strategies(page: PageContext) -> dict[str, Any]:
    found = await page.api.get(f"{API}/strategies")
    return found if isinstance(found, dict) else {}


async def _symbols(page: PageContext) -> list[dict[str, Any]]:
    found = await page.api.get("/api/crypto/symbols")
    return list(found.get("symbols") or []) if isinstance(found, dict) else []


def _stored_range(symbols: list[dict[str, Any]], symbol: str, interval: str) -> tuple[str, str]:
    """(first day, day after the last) of a stored series, for the date fields."""
    for entry in symbols:
        if entry.get("symbol") == symbol:
            info = (entry.get("intervals") or {}).get(interval)
            if info and info.get("first") and info.get("last"):
                first = _day(info["first"])
                last = _day(info["last"])
                if first and last:
                    return first.isoformat(), (last + timedelta(days=1)).isoformat()
    today = datetime.now(UTC).date()
    return (today - timedelta(days=90)).isoformat(), today.isoformat()


def _stored_text(symbols: list[dict[str, Any]], symbol: str, interval: str) -> str:
    """`Stored BTCUSDT 1h: 2024-01-01 to 2024-02-29 (1,440 candles).`"""
    for entry in symbols:
        if entry.get("symbol") == symbol:
            info = (entry.get("intervals") or {}).get(interval)
            if not info:
                return f"Nothing stored for {symbol} {interval} yet."
            first, last = _day(info.get("first") or ""), _day(info.get("last") or "")
            return (
                f"Stored {symbol} {interval}: {first} to {last} "
                f"({int(info.get('candles') or 0):,} candles)."
            )
    return ""


def _day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _default_values(
    strategies: dict[str, Any], symbols: list[dict[str, Any]], strategy: str | None = None
) -> dict[str, str]:
    name = (
        strategy if strategy in strategies else ("sma_cross" if "sma_cross" in strategies else "")
    )
    name = name or next(iter(strategies), "")
    stored = [s for s in symbols if s.get("intervals")]
    symbol = str((stored or symbols or [{"symbol": "BTCUSDT"}])[0].get("symbol", "BTCUSDT"))
    start, end = _stored_range(symbols, symbol, "1h")
    values = {"strategy": name, "symbols": symbol, "interval": "1h", "start": start, "end": end}
    values.update(_DEFAULTS)
    values.update(train_bars="", test_bars="")
    for spec in param_specs((strategies.get(name) or {}).get("parameters") or {}):
        values[f"p_{spec.name}"] = spec.default_text
    return values


def _values_from_request(request: dict[str, Any], base: dict[str, str]) -> dict[str, str]:
    """The form's text for a stored batch request ("Use these settings")."""
    values = dict(base)
    values["strategy"] = str(request.get("strategy") or base["strategy"])
    values["symbols"] = ",".join(request.get("symbols") or [])
    values["interval"] = str((request.get("intervals") or ["1h"])[0])
    for key in ("start", "end"):
        day = _day(str(request.get(key) or ""))
        if day:
            values[key] = day.isoformat()
    for key in ("fee", "slippage_bps", "initial_cash"):
        if request.get(key) is not None:
            values[key] = format_values([request[key]])
    values["rank_by"] = str(request.get("rank_by") or "sharpe")
    walk = request.get("walk_forward") or {}
    values["train_bars"] = str(walk.get("train_bars") or "")
    values["test_bars"] = str(walk.get("test_bars") or "")
    for name, grid_value in (request.get("grid") or {}).items():
        text = format_values(grid_value) if isinstance(grid_value, list) else str(grid_value)
        values[f"p_{name}"] = text
    return values


def _number(text: str, label: str, *, low: float, high: float | None, low_open: bool) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise GridSyntaxError(f"{label} must be a number") from None
    if not math.isfinite(value) or (value <= low if low_open else value < low):
        raise GridSyntaxError(f"{label} must be {'above' if low_open else 'at least'} {low:g}")
    if high is not None and value > high:
        raise GridSyntaxError(f"{label} must be at most {high:g}")
    return value


def _whole(text: str, label: str, low: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < low:
        raise GridSyntaxError(f"{label} must be a whole number of at least {low}")
    return int(text)


def read_form(
    values: dict[str, str], strategies: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The batch request of the form's text, or the errors keyed by field name."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}

    def attempt(name: str, read: Any) -> Any:
        try:
            return read()
        except GridSyntaxError as exc:
            errors[name] = str(exc)
            return None

    strategy = values.get("strategy", "")
    if strategy not in strategies:
        errors["strategy"] = "Choose one of the strategies."
        specs: list[ParamSpec] = []
    else:
        specs = param_specs(strategies[strategy].get("parameters") or {})
    body["strategy"] = strategy
    body["symbols"] = attempt("symbols", lambda: parse_symbols(values.get("symbols", "")))
    interval = values.get("interval", "")
    if interval not in INTERVALS:
        errors["interval"] = f"Choose one of {', '.join(INTERVALS)}."
    body["intervals"] = [interval]
    start = attempt("start", lambda: _date(values.get("start", ""), "Start"))
    end = attempt("end", lambda: _date(values.get("end", ""), "End"))
    if start and end and end <= start:
        errors["end"] = "End must be after Start (Start is included, End is not)."
    body["start"] = f"{start}T00:00:00Z" if start else None
    body["end"] = f"{end}T00:00:00Z" if end else None
    body["fee"] = attempt(
        "fee",
        lambda: _number(values.get("fee", ""), "Fee", low=0, high=0.499999, low_open=False),
    )
    body["slippage_bps"] = attempt(
        "slippage_bps",
        lambda: _number(
            values.get("slippage_bps", ""), "Slippage (bps)", low=0, high=1000, low_open=False
        ),
    )
    body["initial_cash"] = attempt(
        "initial_cash",
        lambda: _number(
            values.get("initial_cash", ""), "Initial cash", low=0, high=None, low_open=True
        ),
    )
    rank_by = values.get("rank_by", "sharpe")
    if rank_by not in RANK_BY:
        errors["rank_by"] = "Choose one of the metrics."
    body["rank_by"] = rank_by
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        found = attempt(
            f"p_{spec.name}", lambda s=spec: parse_values(values.get(f"p_{s.name}", ""), s)
        )
        if found is not None:
            grid[spec.name] = found
    body["grid"] = grid
    train = attempt("train_bars", lambda: _whole(values.get("train_bars", ""), "Train bars", 2))
    test = attempt("test_bars", lambda: _whole(values.get("test_bars", ""), "Test bars", 1))
    if (
        (train is None) != (test is None)
        and "train_bars" not in errors
        and "test_bars" not in errors
    ):
        missing = "test_bars" if test is None else "train_bars"
        errors[missing] = "Walk-forward needs both Train bars and Test bars (or neither)."
    body["walk_forward"] = (
        {"train_bars": train, "test_bars": test} if train is not None and test is not None else None
    )
    return (None if errors else body), errors


def _date(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise GridSyntaxError(f"{label} must be a date (YYYY-MM-DD)") from None


_PARAMETER = re.compile(r"parameter '([A-Za-z_][A-Za-z0-9_]*)'")


def api_field_errors(error: ApiError, param_names: set[str]) -> dict[str, str]:
    """The fields an API rejection is about, for the message beside each."""
    found: dict[str, str] = {}
    names = {
        "symbols": "symbols",
        "intervals": "interval",
        "start": "start",
        "end": "end",
        "fee": "fee",
        "slippage_bps": "slippage_bps",
        "initial_cash": "initial_cash",
        "rank_by": "rank_by",
        "train_bars": "train_bars",
        "test_bars": "test_bars",
        "strategy": "strategy",
    }
    for item in error.errors:
        where = item.get("field", "")
        inner = where.split("'")[1] if "'" in where else where
        parts = [p for p in inner.split(".") if not p.isdigit()]
        for part in reversed(parts):
            if part in names:
                found.setdefault(names[part], item.get("message", error.message))
                break
            if part in param_names:
                found.setdefault(f"p_{part}", item.get("message", error.message))
                break
    message = error.message
    if error.status == 404 and "symbol" in message:
        found.setdefault("symbols", message)
    for match in _PARAMETER.finditer(message):
        if match.group(1) in param_names:
            found.setdefault(f"p_{match.group(1)}", message)
    if "walk_forward.train_bars" in message:
        found.setdefault("train_bars", message)
    if "rank_by" in message and not error.errors:
        found.setdefault("rank_by", message)
    if message.startswith("no candles stored"):
        found.setdefault("start", message)
    if message.startswith("end must be after start"):
        found.setdefault("end", message)
    return found


def _param_fields(strategies: dict[str, Any]) -> dict[str, list[ParamSpec]]:
    return {name: param_specs(s.get("parameters") or {}) for name, s in strategies.items()}


async def _form_page(
    page: PageContext,
    *,
    strategies: dict[str, Any],
    symbols: list[dict[str, Any]],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
    before: str | None = None,
) -> Response:
    try:
        batches = await page.api.get(f"{API}/batches", limit=BATCHES_PAGE, before=before)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        batches = {"batches": [], "next": None, "error": exc.message}
    specs = _param_fields(strategies)
    first_symbol = values.get("symbols", "").split(",")[0].strip().upper()
    return page.render(
        "backtests.html",
        title="Backtests",
        status_code=status_code,
        scripts=["js/backtest_form.js"],
        error=error,
        strategies=strategies,
        specs=specs,
        symbols=symbols,
        values=values,
        errors=errors or {},
        intervals=INTERVALS,
        rank_by_options=RANK_BY,
        batches=batches,
        before=before,
        stored_help=_stored_text(symbols, first_symbol, values.get("interval", "1h")),
        combinations=_grid_size(specs.get(values.get("strategy", ""), []), values),
        form_data={
            "strategies": strategies,
            "symbols": [
                {"symbol": s.get("symbol"), "intervals": s.get("intervals") or {}} for s in symbols
            ],
        },
        **HELPERS,
    )


def _grid_size(specs: list[ParamSpec], values: dict[str, str]) -> int | None:
    """Parameter sets the form's grid stands for (None while a field is invalid)."""
    grid = {}
    for spec in specs:
        try:
            grid[spec.name] = parse_values(values.get(f"p_{spec.name}", ""), spec)
        except GridSyntaxError:
            return None
    return combinations(grid)


@router.get("/backtests")
async def backtests(
    page: PageDep, before: str | None = None, strategy: str | None = None, use: str | None = None
) -> Response:
    strategies, symbols = await asyncio.gather(_strategies(page), _symbols(page))
    values = _default_values(strategies, symbols, strategy)
    notice_error = None
    if use:
        try:
            stored = await page.api.get(f"{API}/batch/{uuid.UUID(use)}", limit=1)
            values = _values_from_request(stored.get("request") or {}, values)
        except (ValueError, ApiError):
            notice_error = "That batch's settings could not be loaded; here are the defaults."
    return await _form_page(
        page,
        strategies=strategies,
        symbols=symbols,
        values=values,
        before=before,
        error=notice_error,
    )


@router.post("/backtests")
async def submit(page: PageDep, request: Request) -> Response:
    form = await request.form()
    typed = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 4096}
    strategies, symbols = await asyncio.gather(_strategies(page), _symbols(page))
    values = _default_values(strategies, symbols, typed.get("strategy"))
    values.update({k: v for k, v in typed.items() if k != "csrf_token"})
    if typed.get("action") == "switch":  # no JavaScript: show the chosen strategy's fields
        return await _form_page(page, strategies=strategies, symbols=symbols, values=values)
    body, errors = read_form(values, strategies)
    if body is None:
        return await _form_page(
            page,
            strategies=strategies,
            symbols=symbols,
            values=values,
            errors=errors,
            status_code=422,
            error="The batch was not submitted: please correct the fields marked below.",
        )
    try:
        created = await page.api.call(
            "POST", f"{API}/batch", json=body, csrf_token=typed.get("csrf_token", "")
        )
    except ApiError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        params = {s.name for s in _param_fields(strategies).get(body["strategy"], [])}
        return await _form_page(
            page,
            strategies=strategies,
            symbols=symbols,
            values=values,
            errors=api_field_errors(exc, params),
            status_code=exc.status,
            error=f"The batch was not submitted: {exc.message}",
        )
    return RedirectResponse(f"/backtests/{created['batch_id']}", status_code=303)


# ---------------------------------------------------------------- a batch


def _batch_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError(404, f"no backtest batch {text}") from None


async def _batch(page: PageContext, batch_id: uuid.UUID, limit: int) -> dict[str, Any]:
    batch = await page.api.get(f"{API}/batch/{batch_id}", limit=limit)
    assert isinstance(batch, dict)
    return batch


def _progress(batch: dict[str, Any]) -> dict[str, Any]:
    jobs = batch.get("jobs") or {}
    total = int(jobs.get("total") or 0)
    done = int(jobs.get("done") or 0) + int(jobs.get("failed") or 0) + int(jobs.get("skipped") or 0)
    running = batch.get("finished_at") is None
    eta = None
    created = _parse_time(batch.get("created_at"))
    if running and created and 0 < done < total:
        elapsed = (datetime.now(UTC) - created).total_seconds()
        eta = _duration(elapsed / done * (total - done))
    if not running:
        state = batch.get("status") or "done"
    elif batch.get("status") == "cancelled":
        state = "cancelling"
    else:
        state = "running" if done else "queued"
    took = None
    finished = _parse_time(batch.get("finished_at"))
    if created and finished:
        took = _duration((finished - created).total_seconds())
    return {
        "total": total,
        "done": done,
        "running": running,
        "eta": eta,
        "state": state,
        "took": took,
    }


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sort_key(column: str) -> Any:
    def key(result: dict[str, Any]) -> Any:
        if column in TEXT_COLUMNS:
            value = result.get(column)
            if column == "params":
                return [
                    str(v) if not isinstance(v, int | float) else v for v in (value or {}).values()
                ]
            return str(value or "")
        metric = (result.get("metrics") or {}).get(column)
        return (metric is None, metric if metric is not None else 0)

    return key


def sort_results(results: list[dict[str, Any]], column: str, order: str) -> list[dict[str, Any]]:
    """Results by one column; a metric's missing values last either way."""
    if column in TEXT_COLUMNS:
        return sorted(results, key=_sort_key(column), reverse=order == "desc")
    present = [r for r in results if (r.get("metrics") or {}).get(column) is not None]
    missing = [r for r in results if (r.get("metrics") or {}).get(column) is None]
    present.sort(key=lambda r: r["metrics"][column], reverse=order == "desc")
    return present + missing


def best_order(column: str) -> str:
    if column in TEXT_COLUMNS or column in LOWER_IS_BETTER:
        return "asc"
    return "desc"


def _windows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Walk-forward series: each out-of-sample result beside its in-sample best."""
    series = []
    for result in results:
        params = result.get("params") or {}
        if params.get("walk_forward") != "out_of_sample":
            continue
        in_sample = next(
            (
                r
                for r in results
                if (r.get("params") or {}).get("walk_forward") == "in_sample"
                and r.get("symbol") == result.get("symbol")
                and r.get("interval") == result.get("interval")
            ),
            None,
        )
        series.append(
            {
                "symbol": result.get("symbol"),
                "interval": result.get("interval"),
                "windows": params.get("windows") or [],
                "out_of_sample": result,
                "in_sample": in_sample,
            }
        )
    return series


def result_link(batch_id: str, result: dict[str, Any], **extra: Any) -> str:
    query = {
        "job": result.get("job_id"),
        "symbol": result.get("symbol"),
        "interval": result.get("interval"),
        "params": canonical(result.get("params") or {}),
        **extra,
    }
    return f"/backtests/{batch_id}/result?{urlencode(query)}"


def compare_key(result: dict[str, Any]) -> str:
    return "|".join(
        (
            str(result.get("job_id")),
            str(result.get("symbol")),
            str(result.get("interval")),
            canonical(result.get("params") or {}),
        )
    )


@router.get("/backtests/{batch_id}")
async def batch_page(
    page: PageDep, batch_id: str, sort: str = "", order: str = "", page_no: int = 1
) -> Response:
    ident = _batch_id(batch_id)
    if ":" in sort:
        sort, order = sort.split(":", 1)
    batch = await _batch(page, ident, RESULTS_FETCH)
    rank_by = batch.get("rank_by") or "sharpe"
    column = sort if sort in (*METRICS, *TEXT_COLUMNS) else rank_by
    if column not in (*METRICS, *TEXT_COLUMNS):
        column = "sharpe"
    if order not in ("asc", "desc"):
        order = best_order(column)
    results = list(batch.get("results") or [])
    ranked = sort_results(results, column, order)
    pages = max(1, math.ceil(len(ranked) / RESULTS_PAGE))
    page_no = min(max(page_no, 1), pages)
    shown = ranked[(page_no - 1) * RESULTS_PAGE : page_no * RESULTS_PAGE]
    progress = _progress(batch)
    request = batch.get("request") or {}

    def page_url(number: int) -> str:
        return (
            f"/backtests/{ident}?{urlencode({'sort': column, 'order': order, 'page_no': number})}"
        )

    return page.render(
        "backtests_batch.html",
        title=f"Backtest batch {str(ident)[:8]}",
        scripts=["js/backtest_batch.js"],
        batch=batch,
        batch_id=str(ident),
        request=request,
        progress=progress,
        results=shown,
        result_count=len(results),
        capped=len(results) >= RESULTS_FETCH and int(batch.get("backtests") or 0) > len(results),
        offset=(page_no - 1) * RESULTS_PAGE,
        sort=column,
        order=order,
        best_order=best_order,
        all_rows=pages == 1,
        prev_url=page_url(page_no - 1) if page_no > 1 else None,
        next_url=page_url(page_no + 1) if page_no < pages else None,
        page_no=page_no,
        pages=pages,
        walk_forward=_windows(results),
        errors_list=batch.get("errors") or [],
        result_link=result_link,
        compare_key=compare_key,
        **HELPERS,
    )


@router.post("/backtests/{batch_id}/cancel")
async def cancel(page: PageDep, batch_id: str, request: Request) -> Response:
    ident = _batch_id(batch_id)
    form = await request.form()
    token = form.get("csrf_token")
    await page.api.call(
        "DELETE", f"{API}/batch/{ident}", csrf_token=token if isinstance(token, str) else ""
    )
    return RedirectResponse(f"/backtests/{ident}", status_code=303)


# ---------------------------------------------------------------- one result


def _result_params(text: str) -> dict[str, Any]:
    try:
        params = json.loads(text)
    except ValueError:
        raise ApiError(404, "no such result: its parameters are not readable") from None
    if not isinstance(params, dict):
        raise ApiError(404, "no such result: its parameters are not readable")
    return params


def _check_series(request: dict[str, Any], symbol: str, interval: str) -> None:
    if symbol not in (request.get("symbols") or []) or interval not in (
        request.get("intervals") or []
    ):
        raise ApiError(404, f"this batch has no {symbol} {interval} results")


async def detailed_run(
    page: PageContext,
    batch_id: uuid.UUID,
    request: dict[str, Any],
    symbol: str,
    interval: str,
    params: dict[str, Any],
    csrf_token: str,
) -> dict[str, Any]:
    """The result of one parameter set of a batch with its trades and equity."""
    assert page.me is not None
    key = (page.me.id, batch_id, symbol, interval, canonical(params))
    found = _runs.get(key)
    if found is not None:
        _runs.move_to_end(key)
        return found
    body = {
        "symbol": symbol,
        "interval": interval,
        "start": request.get("start"),
        "end": request.get("end"),
        "strategy": request.get("strategy"),
        "params": params,
        "fee": request.get("fee", 0.001),
        "slippage_bps": request.get("slippage_bps", 0.0),
        "initial_cash": request.get("initial_cash", 10_000.0),
    }
    run = await page.api.call("POST", f"{API}/run", json=body, csrf_token=csrf_token)
    assert isinstance(run, dict)
    _runs[key] = run
    while len(_runs) > _RUNS_KEPT:
        _runs.popitem(last=False)
    return run


def _drawdown(equity: list[Any]) -> float:
    peak = 0.0
    worst = 0.0
    for point in equity:
        value = float(point[1])
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, 1 - value / peak)
    return worst


@router.get("/backtests/{batch_id}/result")
async def result_page(
    page: PageDep,
    batch_id: str,
    job: int = 0,
    symbol: str = "",
    interval: str = "",
    params: str = "{}",
    trades_page: int = 1,
) -> Response:
    ident = _batch_id(batch_id)
    wanted = _result_params(params)
    batch = await _batch(page, ident, RESULTS_FETCH if wanted.get("walk_forward") else 1)
    request = batch.get("request") or {}
    _check_series(request, symbol, interval)
    assert page.me is not None
    if wanted.get("walk_forward") == "out_of_sample":
        series = [
            s
            for s in _windows(batch.get("results") or [])
            if s["symbol"] == symbol and s["interval"] == interval
        ]
        if not series:
            raise ApiError(404, "this batch has no such walk-forward result")
        return page.render(
            "backtests_result.html",
            title=f"Walk-forward {symbol} {interval}",
            batch_id=str(ident),
            batch=batch,
            request=request,
            symbol=symbol,
            interval=interval,
            params=wanted,
            run=None,
            series=series[0],
            result_link=result_link,
            **HELPERS,
        )
    run_params = {k: v for k, v in wanted.items() if k != "walk_forward"}
    run = await detailed_run(page, ident, request, symbol, interval, run_params, page.me.csrf_token)
    trades = list(run.get("trades") or [])
    pages = max(1, math.ceil(len(trades) / TRADES_PAGE))
    trades_page = min(max(trades_page, 1), pages)
    base = {"job": job, "symbol": symbol, "interval": interval, "params": params}

    def trades_url(number: int) -> str:
        return f"/backtests/{ident}/result?{urlencode({**base, 'trades_page': number})}#trades"

    chart_data = {
        "trades": [
            [
                t.get("entry_time"),
                t.get("entry_price"),
                t.get("exit_time"),
                t.get("exit_price"),
                t.get("return"),
            ]
            for t in trades
        ],
        "equity": run.get("equity") or [],
        "initial_cash": request.get("initial_cash", 10_000.0),
    }
    return page.render(
        "backtests_result.html",
        title=f"Result {symbol} {interval} {params_text(wanted)}",
        scripts=["js/backtest_result.js"],
        batch_id=str(ident),
        batch=batch,
        request=request,
        symbol=symbol,
        interval=interval,
        params=wanted,
        run=run,
        series=None,
        trades=trades[(trades_page - 1) * TRADES_PAGE : trades_page * TRADES_PAGE],
        trade_count=len(trades),
        trades_offset=(trades_page - 1) * TRADES_PAGE,
        trades_prev=trades_url(trades_page - 1) if trades_page > 1 else None,
        trades_next=trades_url(trades_page + 1) if trades_page < pages else None,
        chart_data=chart_data,
        drawdown_check=_drawdown(run.get("equity") or []),
        result_link=result_link,
        **HELPERS,
    )


# ---------------------------------------------------------------- compare


def _compare_items(keys: list[str]) -> list[dict[str, Any]]:
    items = []
    for key in keys:
        parts = key.split("|", 3)
        if len(parts) != 4 or not parts[0].isdigit():
            raise ApiError(404, "no such result to compare")
        items.append(
            {
                "job_id": int(parts[0]),
                "symbol": parts[1],
                "interval": parts[2],
                "params": _result_params(parts[3]),
            }
        )
    return items


@router.get("/backtests/{batch_id}/compare")
async def compare_page(page: PageDep, batch_id: str, request: Request) -> Response:
    ident = _batch_id(batch_id)
    keys = list(dict.fromkeys(request.query_params.getlist("r")))
    if not 2 <= len(keys) <= COMPARE_MAX:
        batch_url = f"/backtests/{ident}"
        return page.render(
            "backtests_compare.html",
            title="Compare results",
            status_code=422,
            error=f"Choose between 2 and {COMPARE_MAX} results to compare (you chose {len(keys)}).",
            batch_id=str(ident),
            batch_url=batch_url,
            items=[],
            runs=[],
            **HELPERS,
        )
    items = _compare_items(keys)
    batch = await _batch(page, ident, 1)
    req = batch.get("request") or {}
    assert page.me is not None
    for item in items:
        _check_series(req, item["symbol"], item["interval"])
        if item["params"].get("walk_forward") == "out_of_sample":
            raise ApiError(
                422, "a walk-forward out-of-sample result cannot be rerun; compare the others"
            )
    runs = await asyncio.gather(
        *(
            detailed_run(
                page,
                ident,
                req,
                item["symbol"],
                item["interval"],
                {k: v for k, v in item["params"].items() if k != "walk_forward"},
                page.me.csrf_token,
            )
            for item in items
        )
    )
    best: dict[str, int] = {}
    for name in (*METRICS, *EXTRA_METRICS):
        values = [(i, (r.get("metrics") or {}).get(name)) for i, r in enumerate(runs)]
        present = [(i, v) for i, v in values if isinstance(v, int | float)]
        if present and name != "trades":
            pick = min if name in LOWER_IS_BETTER else max
            best[name] = pick(present, key=lambda p: p[1])[0]
    return page.render(
        "backtests_compare.html",
        title="Compare results",
        scripts=["js/backtest_compare.js"],
        batch_id=str(ident),
        batch_url=f"/backtests/{ident}",
        request=req,
        items=items,
        runs=runs,
        best=best,
        chart_data=[
            {
                "label": f"{item['symbol']} {item['interval']} {params_text(item['params'])}",
                "equity": run.get("equity") or [],
            }
            for item, run in zip(items, runs, strict=True)
        ],
        result_link=result_link,
        **HELPERS,
    )
