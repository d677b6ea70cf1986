"""One result of a batch in detail (`/backtests/<id>/result`: price chart with
its trades, equity, drawdown, metrics and the `Trades` table) and up to four
side by side (`/backtests/<id>/compare`: metrics, equity curves overlaid).

Batch results carry metrics only; the trades and the equity come from running
that one parameter set again in detail (`POST /api/crypto/backtest/run`: the
same candles and semantics give the same metrics), remembered here per user
for a while so that paging the trades or comparing does not run it again. A
walk-forward's stitched out-of-sample result cannot be rerun that way: its
page shows the windows."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ticktide_common.backtests.catalogue import LOWER_IS_BETTER
from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.pages.backtests.batch_page import batch_ident, fetch_batch
from ticktide_web.pages.backtests.views import (
    API,
    EXTRA_METRICS,
    HELPERS,
    METRICS,
    RESULTS_FETCH,
    canonical,
    params_text,
    result_link,
    walk_forward_series,
)
from ticktide_web.rendering import PageContext

router = APIRouter()

TRADES_PAGE = 250
COMPARE_MAX = 4
_RUNS_KEPT = 64
_runs: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()


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
    ident = batch_ident(batch_id)
    wanted = _result_params(params)
    batch = await fetch_batch(page, ident, RESULTS_FETCH if wanted.get("walk_forward") else 1)
    request = batch.get("request") or {}
    _check_series(request, symbol, interval)
    assert page.me is not None
    if wanted.get("walk_forward") == "out_of_sample":
        series = [
            s
            for s in walk_forward_series(batch.get("results") or [])
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
        result_link=result_link,
        **HELPERS,
    )


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
    ident = batch_ident(batch_id)
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
    batch = await fetch_batch(page, ident, 1)
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
        if present and name not in ("trades", "exposure"):  # neither better high nor low
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
